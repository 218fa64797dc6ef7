// Where and why a JSON text is invalid, without quoting it. V8's messages either give a position
// or quote a piece of the text instead ("Unexpected token 'c', "correct ho"... is not valid JSON"),
// and the text may not be a config at all (a secret file passed to --config by mistake).
// Only runs after JSON.parse has failed, so it may be simple rather than fast.

export interface JsonSyntaxProblem {
  offset: number;
  reason: string;
}

export function findJsonSyntaxError(text: string): JsonSyntaxProblem {
  let i = 0;
  const fail = (reason: string): never => {
    throw { offset: i, reason: i >= text.length ? 'unexpected end of the text' : reason } satisfies JsonSyntaxProblem;
  };
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const expect = (c: string, what: string) => {
    space();
    if (text[i] !== c) fail(`expected ${what}`);
    i++;
  };
  const string = () => {
    expect('"', 'a double-quoted string');
    for (;;) {
      const c = text[i];
      if (c === undefined) fail('unterminated string');
      if (c === '"') break;
      if (c! < ' ') fail('control character in a string');
      if (c === '\\') {
        i++;
        if (text[i] === 'u') {
          for (let n = 0; n < 4; n++) {
            i++;
            if (!/[0-9a-fA-F]/.test(text[i] ?? '')) fail('bad \\u escape');
          }
        } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail('bad escape');
      }
      i++;
    }
    i++;
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      space();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === '{') {
          space();
          if (text[i] !== '"') fail('expected a double-quoted property name');
          string();
          expect(':', '":" after a property name');
        }
        value();
        space();
        if (text[i] === ',') i++;
        else if (text[i] === close) {
          i++;
          return;
        } else fail(`expected "," or "${close}"`);
      }
    }
    if (c === '"') return string();
    const word = ['true', 'false', 'null'].find((w) => w[0] === c);
    if (word) {
      for (const ch of word) {
        if (text[i] !== ch) fail('unexpected character');
        i++;
      }
      return;
    }
    number();
  };
  const digits = () => {
    if (!/[0-9]/.test(text[i] ?? '')) fail('expected a digit');
    while (/[0-9]/.test(text[i] ?? '')) i++;
  };
  const number = () => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else if (/[1-9]/.test(text[i] ?? '')) digits();
    else fail(text[i - 1] === '-' ? 'expected a digit' : 'unexpected character');
    if (text[i] === '.') {
      i++;
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits();
    }
  };
  try {
    value();
    space();
    if (i < text.length) fail('unexpected text after the end');
  } catch (problem) {
    if (typeof problem === 'object' && problem !== null && 'offset' in problem) return problem as JsonSyntaxProblem;
    return { offset: i, reason: 'nested too deeply' }; // the recursion ran out of stack
  }
  return { offset: text.length, reason: 'invalid JSON' };
}

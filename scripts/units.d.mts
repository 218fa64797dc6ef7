// Types of scripts/units.mjs for the tests that import it.
export declare const CONTRIB: string;
export declare function renderUnit(header: string[], sections: Record<string, Record<string, unknown>>): string;
export declare function portableUnits(units?: unknown): Record<string, string>;
export declare function drift(root?: string): string[];

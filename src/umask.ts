// The umask the program was started with. main.ts narrows it to 077 before anything is written (so
// nothing materialize creates is readable by others by accident); `materialize run` gives the
// original back to the command it starts, which must behave as if started by the shell.
let original = 0o022;

/** Sets umask 077 for this process and remembers the one it replaces. */
export function narrowUmask(): void {
  original = process.umask(0o077);
}

/** The umask in force before narrowUmask(). */
export function originalUmask(): number {
  return original;
}

// Whether a process id names a living process, decided one way for every caller (the lock's owner,
// a generation's builder, a private directory's run).

/** Whether process `pid` exists in this pid namespace (EPERM: it does, as another user's). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Child processes (gpg, mount, systemctl, getent) go through execa, imported only when a run
// actually starts one: execa is ~240 KB bundled and most runs spawn nothing, so importing it
// eagerly cost every `apply` and `check` ~20 ms of module compilation (measured with --cpu-prof).
export async function loadExeca(): Promise<typeof import('execa').execa> {
  return (await import('execa')).execa;
}

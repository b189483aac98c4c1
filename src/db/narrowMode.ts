import { chmodSync, statSync } from 'node:fs'

/**
 * Sets `path`'s permission bits to `mode` when it grants more. A file someone else owns
 * (EPERM) is left as it is: only its owner can narrow it, and refusing to open it would
 * lock out a reader the owner let in.
 */
export function narrowMode(path: string, mode: number): void {
  if ((statSync(path).mode & 0o777 & ~mode) === 0) return
  try {
    chmodSync(path, mode)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e
  }
}

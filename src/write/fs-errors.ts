/**
 * Why natgw did not write the output directory, in words a user can act on. The
 * CLI prints the message after "cannot write <dir>: "; it never carries a stack.
 */
export class OutputError extends Error {}

/** The kernel's reasons, as `strerror` words, for the errors a write can meet. */
const REASONS: Readonly<Record<string, string>> = {
  EROFS: "read-only file system",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  ENOTDIR: "a part of the path is not a directory",
  EISDIR: "is a directory",
  EEXIST: "already exists",
  ENOENT: "no such file or directory",
  ENOTEMPTY: "directory not empty",
  ELOOP: "too many levels of symbolic links",
  ENAMETOOLONG: "file name too long",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
  EIO: "input/output error",
  EBUSY: "device or resource busy",
  EXDEV: "on another file system",
};

export function errnoCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/** "read-only file system (EROFS)"; an unknown code keeps Node's own text. */
export function describeErrno(error: unknown): string {
  const code = errnoCode(error);
  if (code === undefined) return (error as Error).message;
  const reason = REASONS[code] ?? (error as Error).message.replace(/^[A-Z]+: /, "").replace(/, \w+ '.*$/, "");
  return `${reason} (${code})`;
}

/**
 * Runs one file system call; a failure becomes an OutputError that names what
 * natgw was doing and the path, so the first real cause reaches the user rather
 * than whatever a later cleanup step runs into.
 */
export function attempt<T>(action: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (errnoCode(error) === undefined) throw error;
    throw new OutputError(`${action}: ${describeErrno(error)}`, { cause: error });
  }
}

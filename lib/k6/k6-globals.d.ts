// k6 provides a console object at run time; @types/k6 does not declare it (it leaves that to the DOM lib,
// which would also admit browser APIs that k6 does not have).
declare global {
  const console: {
    log(...args: unknown[]): void;
    info(...args: unknown[]): void;
    warn(...args: unknown[]): void;
    error(...args: unknown[]): void;
    debug(...args: unknown[]): void;
  };
}
export {};

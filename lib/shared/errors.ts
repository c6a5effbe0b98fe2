// Every error k6-ha throws on purpose, in one module (the style of nats.js core/src/errors.ts):
// each class takes (message, options?), where options carries the error that led to it (`cause`)
// and the class's own fields, and sets its `name`. Errors that mean "the user's input is wrong"
// extend UsageError: the CLI exits 2 for them (lib/cli/main.ts). Exit codes: UsageError 2,
// ToolMissingError 3, CompareInterruptedError 130, anything else 1.
//
// No Node or k6 imports: InvalidSettingError is also thrown inside k6 (lib/k6/env.ts, bundled into
// the scenarios), whose runtime (sobek) may not honour Error's ES2022 options argument; `cause` is
// therefore set here explicitly, not through super(message, options).
//
// Not here: the private HttpError of lib/fixtures/eventstore-fixture.ts (the fixture server's own
// HTTP answer: status, reason, headers, never leaving the module).

/** What every error here accepts: the error that led to it. */
export interface CauseOptions {
  cause?: unknown;
}

/** Sets `cause` like ES2022's Error(message, { cause }) does: an own, non-enumerable property, present when options has one. */
function setCause(err: Error, options: CauseOptions | undefined): void {
  if (options !== undefined && 'cause' in options) {
    Object.defineProperty(err, 'cause', {
      value: options.cause,
      writable: true,
      enumerable: false,
      configurable: true,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Usage errors: the user's input is wrong (a setting, a flag, an experiment, a plan); exit 2.
// ---------------------------------------------------------------------------------------------

/** The base of every error that means "the input is wrong": the CLI exits 2 for it. */
export class UsageError extends Error {
  constructor(message: string, options?: CauseOptions) {
    super(message);
    this.name = 'UsageError';
    setCause(this, options);
  }
}

export interface InvalidSettingOptions extends CauseOptions {
  /** the variable or flag: DURATION, --port, … */
  setting: string;
  /** the value as given */
  value: string;
  /** what would have been accepted */
  allowed: string;
}

/** A configuration value that is not allowed. Names the variable, the value and what is allowed. */
export class InvalidSettingError extends UsageError {
  readonly setting: string;
  readonly value: string;
  readonly allowed: string;

  /** The usual message, `invalid NAME="value": what is allowed`, with the fields set. */
  static format(setting: string, value: string, allowed: string, options?: CauseOptions): InvalidSettingError {
    return new InvalidSettingError(`invalid ${setting}=${JSON.stringify(value)}: ${allowed}`, {
      ...options,
      setting,
      value,
      allowed,
    });
  }

  constructor(message: string, options: InvalidSettingOptions);
  /**
   * @deprecated the positional form, kept only while lib/k6/env.ts (edited elsewhere) still calls
   * it; the same as InvalidSettingError.format(setting, value, allowed).
   */
  constructor(setting: string, value: string, allowed: string);
  constructor(messageOrSetting: string, optionsOrValue: InvalidSettingOptions | string, allowed?: string) {
    const options: InvalidSettingOptions =
      typeof optionsOrValue === 'string'
        ? { setting: messageOrSetting, value: optionsOrValue, allowed: allowed ?? '' }
        : optionsOrValue;
    super(
      typeof optionsOrValue === 'string'
        ? `invalid ${options.setting}=${JSON.stringify(options.value)}: ${options.allowed}`
        : messageOrSetting,
      options,
    );
    this.name = 'InvalidSettingError';
    this.setting = options.setting;
    this.value = options.value;
    this.allowed = options.allowed;
  }
}

/**
 * The S3 endpoint refused the scenario's credentials in the preflight (a signed request from the
 * Node side before any load): `setting` names the variable to fix (S3_ACCESS_KEY, S3_SECRET_KEY).
 */
export class S3CredentialsError extends UsageError {
  readonly setting: string;
  /** S3's error code: InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied, … */
  readonly code: string;

  constructor(message: string, options: CauseOptions & { setting: string; code: string }) {
    super(message, options);
    this.name = 'S3CredentialsError';
    this.setting = options.setting;
    this.code = options.code;
  }
}

/** An experiment file that cannot be read, parsed or validated, or a flag that does not fit it. */
export class ExperimentError extends UsageError {
  /** the experiment file (or the experiment's name when there is no file) */
  readonly file: string;
  constructor(message: string, options: CauseOptions & { file: string }) {
    super(message, options);
    this.name = 'ExperimentError';
    this.file = options.file;
  }
}

/** An experiment's k6 environment (env.*) that the scenario would refuse at init. */
export class ScenarioEnvError extends UsageError {
  constructor(message: string, options?: CauseOptions) {
    super(message, options);
    this.name = 'ScenarioEnvError';
  }
}

/** A chaos plan that cannot be carried out as written (nothing matches, more than blastRadius, …). */
export class PlanRefusedError extends UsageError {
  constructor(message: string, options?: CauseOptions) {
    super(message, options);
    this.name = 'PlanRefusedError';
  }
}

/** The kube context is not the one the experiment names: refused before anything starts (exit 2). */
export class KubeContextError extends PlanRefusedError {
  constructor(message: string, options?: CauseOptions) {
    super(message, options);
    this.name = 'KubeContextError';
  }
}

/** An object outside target.namespaces: refused (exit 2 before the run; a failed action during it). */
export class NamespaceRefusedError extends PlanRefusedError {
  readonly namespace: string;
  constructor(message: string, options: CauseOptions & { namespace: string }) {
    super(message, options);
    this.name = 'NamespaceRefusedError';
    this.namespace = options.namespace;
  }
}

// ---------------------------------------------------------------------------------------------
// Tools: a required binary is missing or cannot be built; exit 3.
// ---------------------------------------------------------------------------------------------

export class ToolMissingError extends Error {
  /** the tool's name (k6, nats-server, …) */
  readonly tool: string;
  constructor(message: string, options: CauseOptions & { tool: string }) {
    super(message);
    this.name = 'ToolMissingError';
    setCause(this, options);
    this.tool = options.tool;
  }
}

// ---------------------------------------------------------------------------------------------
// The local stack: its processes and the publisher's HTTP input.
// ---------------------------------------------------------------------------------------------

/** A stack process exited, could not be spawned or was not ready in time; or k6 could not be spawned (lib/run/k6-process.ts). */
export class ProcessStartError extends Error {
  constructor(message: string, options?: CauseOptions) {
    super(message);
    this.name = 'ProcessStartError';
    setCause(this, options);
  }
}

/** A request to the publisher that is not a valid CloudEvent (answered 400, never thrown to the CLI). */
export class InvalidCloudEventError extends Error {
  constructor(message: string, options?: CauseOptions) {
    super(message);
    this.name = 'InvalidCloudEventError';
    setCause(this, options);
  }
}

// ---------------------------------------------------------------------------------------------
// The sidecar: the JetStream probe, the control API and the `command` chaos action.
// ---------------------------------------------------------------------------------------------

/** The JetStream probe cannot reach NATS. */
export class ProbeError extends Error {
  constructor(message: string, options?: CauseOptions) {
    super(message);
    this.name = 'ProbeError';
    setCause(this, options);
  }
}

/** A control call that cannot be carried out; its HTTP status says why (400 invalid, 409 out of turn, 413 too large). */
export class ControlRequestError extends Error {
  readonly status: 400 | 404 | 405 | 409 | 413;
  constructor(message: string, options: CauseOptions & { status: 400 | 404 | 405 | 409 | 413 }) {
    super(message);
    this.name = 'ControlRequestError';
    setCause(this, options);
    this.status = options.status;
  }
}

/** What a `command` action's process did. */
export interface CommandResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  stdoutTail: string;
  stderrTail: string;
}

/** A `command` action that timed out or exited with another code than expected. */
export class CommandActionError extends Error {
  readonly result: CommandResult;
  constructor(message: string, options: CauseOptions & { result: CommandResult }) {
    super(message);
    this.name = 'CommandActionError';
    setCause(this, options);
    this.result = options.result;
  }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes: API calls, exec and watches.
// ---------------------------------------------------------------------------------------------

/** A Kubernetes API call failed; `code` is the HTTP status (404, 409, 429, …) or null for a transport error. */
export class KubeApiError extends Error {
  readonly code: number | null;
  constructor(message: string, options?: CauseOptions & { code?: number | null }) {
    super(message);
    this.name = 'KubeApiError';
    setCause(this, options);
    this.code = options?.code ?? null;
  }
}

/** A pod or node selector that cannot be resolved (nothing matches, or the leader cannot be read). */
export class SelectorError extends Error {
  constructor(message: string, options?: CauseOptions) {
    super(message);
    this.name = 'SelectorError';
    setCause(this, options);
  }
}

/** A drain gave up: evictions still refused (a PodDisruptionBudget) when its timeout ran out. */
export class DrainError extends Error {
  /** the pods whose eviction was still refused */
  readonly blocked: string[];
  constructor(message: string, options: CauseOptions & { blocked: string[] }) {
    super(message);
    this.name = 'DrainError';
    setCause(this, options);
    this.blocked = options.blocked;
  }
}

/** The exec connection to a container failed. */
export class ExecError extends Error {
  constructor(message: string, options?: CauseOptions) {
    super(message);
    this.name = 'ExecError';
    setCause(this, options);
  }
}

/** A watch did not see its condition in time, or was stopped. */
export class WaitTimeoutError extends Error {
  constructor(message: string, options?: CauseOptions) {
    super(message);
    this.name = 'WaitTimeoutError';
    setCause(this, options);
  }
}

// ---------------------------------------------------------------------------------------------
// compare: the two summaries and the two runs.
// ---------------------------------------------------------------------------------------------

/**
 * A summary that cannot be read or is not a k6 summary. Not a UsageError (exit 1, as before):
 * it is also thrown for the summary k6 wrote itself in run mode.
 */
export class CompareInputError extends Error {
  constructor(message: string, options?: CauseOptions) {
    super(message);
    this.name = 'CompareInputError';
    setCause(this, options);
  }
}

/** A compare run that could not be made (k6 did not start, wrote no summary, …). */
export class CompareRunError extends Error {
  constructor(message: string, options?: CauseOptions) {
    super(message);
    this.name = 'CompareRunError';
    setCause(this, options);
  }
}

/**
 * One of compare's runs was stopped by SIGINT or SIGTERM (its members restored, its run dir
 * written): the other is not run and nothing is compared. The CLI exits 130, like an interrupted `run`.
 */
export class CompareInterruptedError extends CompareRunError {
  constructor(message: string, options?: CauseOptions) {
    super(message, options);
    this.name = 'CompareInterruptedError';
  }
}

// ---------------------------------------------------------------------------------------------
// The EventStore fixture's log.
// ---------------------------------------------------------------------------------------------

/** The fixture's log file holds a line that is not a record, or records out of order. */
export class StoreCorruptError extends Error {
  constructor(message: string, options?: CauseOptions) {
    super(message);
    this.name = 'StoreCorruptError';
    setCause(this, options);
  }
}

/** Writing the fixture's log failed: it must stop acknowledging appends. */
export class StoreWriteError extends Error {
  constructor(message: string, options?: CauseOptions) {
    super(message);
    this.name = 'StoreWriteError';
    setCause(this, options);
  }
}

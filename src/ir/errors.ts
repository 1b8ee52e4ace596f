/**
 * Every failure cloudless reports on purpose is a CloudlessError: a stable
 * `code` a program can switch on, a message that names the file, node, input
 * or key at fault, and an optional hint that says what to do about it.
 */
export type ErrorCode =
  | 'E_FILE'            // cannot read a file
  | 'E_FORMAT'          // bytes are not a model of the claimed format, or are corrupt / truncated
  | 'E_UNSUPPORTED_OP'  // an op (or op variant) no kernel implements
  | 'E_UNSUPPORTED'     // a feature of a format or op we refuse (external data, dtype, attribute value)
  | 'E_DTYPE'           // wrong or unsupported element type
  | 'E_SHAPE'           // shapes that do not fit together
  | 'E_INPUT'           // a feed that is missing, unknown or of the wrong shape/dtype
  | 'E_ATTR'            // a missing or invalid node attribute
  | 'E_GRAPH'           // a malformed graph (dangling value, cycle, duplicate name)
  | 'E_CONFIG'          // an invalid configuration or command-line argument
  | 'E_IMAGE'           // an image that cannot be decoded
  | 'E_AUDIO'           // audio that cannot be decoded
  | 'E_EGRESS'          // a network connection the allow-list refuses (host, resolved address or redirect)
  | 'E_LIMIT'           // a model or input that asks for more memory than the resource limits allow
  | 'E_MANIFEST'        // a model rollout manifest refused (the message starts with the reason's name)
  | 'E_FLEET_MESSAGE'   // a fleet MQTT message that is oversized, not JSON or off its schema
  | 'E_INTERNAL';       // a bug in cloudless: please report it

export interface ErrorDetails {
  hint?: string;
  file?: string;
  node?: string;
  cause?: unknown;
}

export class CloudlessError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly file?: string;
  readonly node?: string;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CloudlessError';
    this.code = code;
    this.hint = details.hint;
    this.file = details.file;
    this.node = details.node;
  }

  /** The message with its hint, as the CLI prints it. */
  describe(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

/** Prefixes the message of a CloudlessError (or wraps any other error) with where it happened. */
export function withContext(err: unknown, prefix: string, details: ErrorDetails = {}): CloudlessError {
  if (err instanceof CloudlessError) {
    const out = new CloudlessError(err.code, `${prefix}: ${err.message}`, {
      hint: err.hint, file: details.file ?? err.file, node: details.node ?? err.node, cause: err,
    });
    out.stack = err.stack;
    return out;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new CloudlessError('E_INTERNAL', `${prefix}: ${msg}`, { ...details, cause: err });
}

// The one error configuration reading throws.

/** A bad configuration value. `variable` is the variable's name, or ".env:<line>" for the file. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    // One line, whatever reached the message.
    super(`${variable}: ${detail}`.replace(/[\r\n\u0085\u2028\u2029]+/g, ' '));
  }
}

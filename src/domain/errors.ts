// The one error the domain raises for a client's mistake, or for a registry that cannot be reached
// now ('unavailable': try again). Callers above map its code to their own answer (the API to a 4xx or
// a 503 with `{error, message, field?}`, the CLI to a line and exit status).

export type RegistryErrorCode = 'duplicate' | 'not_found' | 'range_full' | 'invalid' | 'gone' | 'rate_limited' | 'limit' | 'unavailable';

export class RegistryError extends Error {
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    /** The request field at fault (node_id, description, …), so a form can show the message beside it. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** A value the installers cannot carry safely: a RegistryError('invalid'), so the API answers 400. */
export class InstallInputError extends RegistryError {
  constructor(field: string, message: string) {
    super('invalid', `${field}: ${message}`, field);
    this.name = 'InstallInputError';
  }
}

// DATABASE_URL: which engine it names, and how to show it without its password.

/** The URL with any password replaced by `***`, for messages and logs. Not a URL: shown as `(not a URL)`. */
export function maskDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(not a URL)';
  }
  if (parsed.password) parsed.password = '***';
  // A password may also come as a query parameter (libpq's password=…).
  for (const key of [...parsed.searchParams.keys()]) if (key.toLowerCase() === 'password') parsed.searchParams.set(key, '***');
  return parsed.toString();
}

/** Whether the URL names a PostgreSQL server (postgres:// or postgresql://). */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

// DATABASE_URL in messages: everything but the password, which never leaves in a message or a log.

/**
 * The URL with its password replaced by ***. A text that is not a URL with a host (scheme://…) is
 * not shown at all: where its password is cannot be known ("user:secret@host" reads as a URL of
 * the scheme "user:").
 */
export function redactDatabaseUrl(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || !URL.canParse(url)) return "(not shown: it is not a URL)";
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

export const isPostgresUrl = (url: string) => URL.canParse(url) && /^postgres(?:ql)?:$/.test(new URL(url).protocol);

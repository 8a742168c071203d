/*
 * Answers that did not come from the storage service the URL names. A storage API never answers with a web page
 * (S3 answers XML or nothing, the GCS JSON API JSON), so such an answer came from something else at the endpoint: a
 * gateway's error page, or a web server that the endpoint variable names by mistake. Saying so beats the SDK's
 * "UnknownError", or a page read as a damaged ref.
 */

/** Whether an answer's headers (a Node-style lower-case header map) mark it as a web page. */
export function isWebPage(headers: unknown): boolean {
  const type = (headers as Record<string, unknown> | null | undefined)?.['content-type'];
  return typeof type === 'string' && /^\s*text\/html\b/i.test(type);
}

/**
 * "ENDPOINT answered HTTP 502, but not as S3 does (a proxy or another server?)", to follow "cannot WHAT: ". When
 * `what` names the endpoint already ("open store s3://b at ENDPOINT"), "it answered ...".
 */
export function foreignAnswer(what: string, endpoint: string, status: number | undefined, service: string): string {
  const who = what.includes(endpoint) ? 'it' : endpoint;
  const answered = status === undefined ? 'answered' : `answered HTTP ${status}`;
  return `${who} ${answered}, but not as ${service} does (a proxy or another server?)`;
}

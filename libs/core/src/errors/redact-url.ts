/**
 * `url` with its password, if it has one, shown as `***` (the user name stays, to tell accounts apart), and
 * otherwise exactly as given: for logs and messages, which must not print a secret.
 */
export function redactUrl(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@:]*:)[^/?#@]*@/, '$1***@');
}

// Links carry secrets (the group's key, a writer seed, a backup server's access secret):
// what the demo prints keeps a link's kind, group and name and drops every secret.

/**
 * `text` (a link, or a command line holding one) with the value of every secret
 * parameter replaced by `<redacted>`; a value ends at `&`, a quote or white space.
 */
export const redactLinkText = (text: string) =>
  text.replace(/([?&](?:secret|wkey|dht|auth|access|data)=)[^&"'\s]+/g, "$1<redacted>")

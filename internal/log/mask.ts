const ADDRESS = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;

/** `john@example.com` → `j***@example.com`: enough to tell two recipients apart, not to read one. */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf("@");
  if (at <= 0) return "***";
  return `${address[0]}***${address.slice(at)}`;
}

/** Masks every address inside free text, such as an SMTP reply that quotes the recipient. */
export function maskEmailsInText(text: string): string {
  return text.replace(ADDRESS, "$1***@$2");
}

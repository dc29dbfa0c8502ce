const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** `text` as UTF-8, in base64url without padding; `btoa`, not `Buffer`, so any runtime has it. */
export function toBase64Url(text: string): string {
  let binary = "";
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The text `toBase64Url` encoded; throws for input that is not base64url of UTF-8. */
export function fromBase64Url(encoded: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(encoded)) throw new TypeError("not base64url");
  const binary = atob(encoded.replaceAll("-", "+").replaceAll("_", "/"));
  return decoder.decode(Uint8Array.from(binary, (character) => character.charCodeAt(0)));
}

import { createPrivateKey } from "node:crypto";
import { ControllerError } from "../errors.js";

const FIX =
  "put the App's private key into GITHUB_APP_PRIVATE_KEY_FILE as GitHub gave it (a .pem file, " +
  "-----BEGIN RSA PRIVATE KEY-----); generate one under the App's settings → Private keys";

/**
 * Check that `text` (the contents of `path`) is an unencrypted RSA private key in PEM: what GitHub
 * issues for an App. Throws RC_APP_KEY_INVALID naming the file and what is wrong — never the
 * contents.
 */
export function checkAppKey(text: string, path: string): void {
  const invalid = (what: string): ControllerError =>
    new ControllerError("RC_APP_KEY_INVALID", `GitHub App key file ${path} ${what}`, { hint: FIX });
  if (!/-----BEGIN (?:RSA |ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
    throw invalid("does not hold a private key in PEM");
  }
  let type: string | undefined;
  try {
    type = createPrivateKey({ key: text, format: "pem" }).asymmetricKeyType;
  } catch {
    throw invalid("holds a PEM block that is not a readable, unencrypted private key");
  }
  if (type !== "rsa") throw invalid(`holds ${type ? `an ${type.toUpperCase()}` : "a"} key, not an RSA key`);
}

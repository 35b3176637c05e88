/**
 * The address the simulator tells its clients (in JIT configs, Link headers and representations'
 * URLs). A wildcard it listens on (0.0.0.0, ::) is no address anyone can connect to, so unless told
 * otherwise it advertises the loopback address of the same family.
 */

/** A host for URLs: `host` as given, or loopback in place of a wildcard address. */
export function reachableHost(host: string): string {
  if (host === "0.0.0.0" || host === "::ffff:0.0.0.0") return "127.0.0.1";
  if (host === "::" || host === "[::]") return "::1";
  return host;
}

/** `http://host:port`, with an IPv6 address in brackets. */
export function httpUrl(host: string, port: number): string {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  return `http://${bare.includes(":") ? `[${bare}]` : bare}:${port}`;
}

/** The base URL to advertise: `advertiseHost` if given, else a reachable form of the bound address. */
export function advertisedUrl(boundAddress: string, port: number, advertiseHost?: string): string {
  return httpUrl(advertiseHost ?? reachableHost(boundAddress), port);
}

/**
 * Cameras answer with addresses that are not where we reached them: their XAddrs, stream URIs and subscription
 * addresses name 127.0.1.1, a private address behind NAT, a hostname, or no host at all (Frigate #18352,
 * python-onvif-zeep #61, agsh/onvif #231). The rule: keep the camera's scheme, path, query and port, and use the
 * host we actually reached it at whenever the camera's host differs from it. (A camera that really points
 * elsewhere, e.g. an NVR's RTSP on another host, is rare; the configuration can pin it per device later.)
 */
export function rewriteToReachedHost(uri: string, reachedHost: string): string {
  const trimmed = uri.trim();
  if (trimmed === '') return trimmed;
  // "/onvif/media" or "onvif/media": no host at all.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    const path = trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
    return `http://${hostForUrl(reachedHost)}${path}`;
  }
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return trimmed;
  }
  const reached = hostForUrl(reachedHost);
  if (url.hostname === '' || url.hostname.toLowerCase() !== reached.toLowerCase()) {
    // Setting hostname keeps the port; an IPv6 host needs its brackets.
    url.hostname = reached;
  }
  return url.toString();
}

function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

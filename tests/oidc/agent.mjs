// A scripted user agent: follows redirects with a cookie jar and fills oidc-provider's
// development login and consent forms, until it is redirected to a URL starting with `stopAt`.
export async function browse(startUrl, { login, stopAt, method = 'GET', body }) {
  const jar = new Map();
  let url = startUrl;
  let request = { method, body };
  for (let hop = 0; hop < 30; hop += 1) {
    if (url.startsWith(stopAt)) return url;
    const headers = { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
    if (request.body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, { method: request.method, body: request.body, headers, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const [name, ...value] = pair.split('=');
      jar.set(name.trim(), value.join('='));
    }
    const location = response.headers.get('location');
    if (location) {
      url = new URL(location, url).toString();
      request = { method: 'GET' };
      continue;
    }
    const html = await response.text();
    const form = html.match(/<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i);
    if (!form) throw new Error(`stuck at ${url} (${response.status}): ${html.slice(0, 300)}`);
    const fields = new URLSearchParams();
    for (const input of form[2].matchAll(/<input[^>]*name="([^"]+)"[^>]*>/gi)) {
      const value = input[0].match(/value="([^"]*)"/);
      fields.set(input[1], value ? value[1].replaceAll('&amp;', '&') : '');
    }
    if (fields.has('login')) fields.set('login', login);
    if (fields.has('password')) fields.set('password', 'any-password');
    url = new URL(form[1].replaceAll('&amp;', '&'), url).toString();
    request = { method: 'POST', body: fields.toString() };
  }
  throw new Error(`too many redirects from ${startUrl}`);
}

// A scripted user agent: follows redirects with a cookie jar and submits forms — the signing
// page's, and oidc-provider's development login and consent forms — until it is redirected to a
// URL starting with `stopAt`.
//
// Options: `login` (the user to log in as), `form` (a substring of the action of the form to
// submit on esignd's page: "start" or "cancel"), `abort` (follow the provider's Cancel link
// instead of logging in).
export async function browse(startUrl, { login, stopAt, form: wantedForm = 'start', abort = false }) {
  const jar = new Map();
  let url = startUrl;
  let request = { method: 'GET' };
  const pages = [];
  for (let hop = 0; hop < 30; hop += 1) {
    if (url.startsWith(stopAt)) return { url, pages };
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
    pages.push({ url, status: response.status, html });
    if (abort) {
      const cancel = html.match(/<a href="([^"]*\/abort)"/);
      if (cancel) {
        url = new URL(cancel[1].replaceAll('&amp;', '&'), url).toString();
        request = { method: 'GET' };
        continue;
      }
    }
    const forms = [...html.matchAll(/<form([^>]*)>([\s\S]*?)<\/form>/gi)].map(([, attributes, inner]) => ({
      action: (attributes.match(/action="([^"]*)"/) ?? [])[1],
      method: ((attributes.match(/method="([^"]*)"/) ?? [])[1] ?? 'get').toLowerCase(),
      inner,
    }));
    const chosen = forms.find((f) => f.method === 'post' && f.action?.includes(wantedForm))
      ?? forms.find((f) => f.method === 'post' && !f.action?.includes('/sign/interactive/'));
    if (!chosen) throw new Error(`stuck at ${url} (${response.status}): ${html.slice(0, 400)}`);
    const fields = new URLSearchParams();
    for (const input of chosen.inner.matchAll(/<input[^>]*name="([^"]+)"[^>]*>/gi)) {
      const value = input[0].match(/value="([^"]*)"/);
      fields.set(input[1], value ? value[1].replaceAll('&amp;', '&').replaceAll('&quot;', '"') : '');
    }
    if (fields.has('login')) fields.set('login', login);
    if (fields.has('name')) fields.set('name', login); // esignd's built-in mock provider
    if (fields.has('password')) fields.set('password', 'any-password');
    url = new URL(chosen.action.replaceAll('&amp;', '&'), url).toString();
    request = { method: 'POST', body: fields.toString() };
  }
  throw new Error(`too many redirects from ${startUrl}`);
}

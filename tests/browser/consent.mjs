// The citizen's browser against two attacks on consent, in Debian's headless Chromium:
//
// 1. The citizen signs normally at SIGNING_URL: Sign, log in at the provider as LOGIN — which
//    leaves a single sign-on session there — and back to the eService (CALLBACK is not running:
//    esignd's redirect there is read, not followed).
// 2. An attacker's page on another site (http://attacker.test:PORT, served here) auto-submits the
//    Sign form of the attacker's session CSRF_TOKEN in the citizen's browser.
// 3. The attacker started a flow in their own browser and sends the citizen to its provider URL
//    PHISH_URL: the citizen logs in, and the provider sends the browser back to esignd.
//
// Prints JSON: where the normal flow ended, and the status and text of the page each attack
// ended on.
//
//   node consent.mjs ESIGND_BASE SIGNING_URL CSRF_TOKEN PHISH_URL CALLBACK LOGIN
import http from 'node:http';
import { launch, logInAtProvider } from './chromium.mjs';

const [base, signingUrl, csrfToken, phishUrl, callback, login] = process.argv.slice(2);

// The attacker's site: a page that submits esignd's Sign form as soon as it loads.
const attacker = http.createServer((request, response) => {
  response.setHeader('content-type', 'text/html');
  response.end(`<!doctype html><title>You won a prize</title>
    <form method="post" action="${base}/sign/interactive/start"><input type="hidden" name="token" value="${csrfToken}"></form>
    <script>document.forms[0].submit()</script>`);
});
await new Promise((resolve) => attacker.listen(0, '127.0.0.1', resolve));
// Another site: a name of its own, which this browser resolves to loopback.
const attackerUrl = `http://attacker.test:${attacker.address().port}/prize`;

const logIn = (page) => logInAtProvider(page, base, login);

/// What a navigation that ends on esignd showed: its status and text.
async function ended(page, response) {
  await page.waitForURL((url) => url.href === response.url());
  return { status: response.status(), url: page.url(), text: await page.locator('main').innerText() };
}

const browser = await launch(['--host-resolver-rules=MAP attacker.test 127.0.0.1']);
try {
  const context = await browser.newContext({ locale: 'en-GB' });
  let page = await context.newPage();
  page.setDefaultTimeout(30_000);

  await page.goto(signingUrl);
  await page.getByRole('button', { name: 'Sign with my national ID' }).click();
  await page.waitForURL((url) => !url.href.startsWith(base));
  // esignd sends the browser on to the eService's callback (not running: the redirect is read).
  const normal = (await logIn(page)).headers().location;

  // The same browser (its cookies, its session at the provider), in a new tab.
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const csrfAnswer = page.waitForResponse((r) => r.url().startsWith(`${base}/sign/interactive/start`));
  // The attacker's page submits its form while loading: what counts is where that lands.
  await page.goto(attackerUrl, { waitUntil: 'commit' });
  const csrf = await ended(page, await csrfAnswer);

  await page.goto(phishUrl);
  const phish = await ended(page, await logIn(page));

  console.log(JSON.stringify({ normal, csrf, phish }));
} catch (e) {
  console.error('consent.mjs failed:', e);
  process.exitCode = 1;
} finally {
  await browser.close();
  attacker.close();
}

// A citizen signs a session in Debian's headless Chromium: open SIGNING_URL, press Sign, log in
// at the provider as LOGIN, until the provider sends the browser back to esignd, which answers
// with a redirect to the eService's CALLBACK (not running: the redirect is read, not followed).
// Prints JSON: esignd's answer there (status and Location) and any console errors on esignd's pages.
//
//   node session.mjs ESIGND_BASE SIGNING_URL LOGIN
import { launch, logInAtProvider, openPage } from './chromium.mjs';

const [base, signingUrl, login] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, consoleErrors } = await openPage(browser, { errorsFrom: base });

  await page.goto(signingUrl);
  await page.getByRole('button', { name: 'Sign with my national ID' }).click();
  await page.waitForURL((url) => !url.href.startsWith(base));
  const response = await logInAtProvider(page, base, login);
  console.log(JSON.stringify({ status: response.status(), location: response.headers().location ?? null, consoleErrors }));
} finally {
  await browser.close();
}

// A citizen signing with their own device, in Debian's headless Chromium: open the signing page
// at URL (the GovStack pseudonym page's redirect), read it, type PSEUDONYM, press "Sign with my
// device", watch the waiting page until the device has answered and the page redirects the
// browser back to the eService at CALLBACK (not running: the redirect is read, not followed
// to its end). Prints two JSON
// lines: the waiting page's text as soon as it shows (the test starts the device then), and then
// the signing page's text, the final URL and console errors.
//
//   node pseudonym.mjs URL PSEUDONYM CALLBACK
import { launch, openPage } from './chromium.mjs';

const [url, pseudonym, callback] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, consoleErrors } = await openPage(browser);

  await page.goto(url);
  const signingPage = await page.locator('main').innerText();
  await page.getByLabel('Your pseudonym').fill(pseudonym);
  await page.getByRole('button', { name: 'Sign with my device' }).click();

  await page.waitForURL(/\/sign\/interactive\/device\?/);
  console.log(JSON.stringify({ waitingPage: await page.locator('main').innerText() }));
  const redirect = await page.waitForResponse(
    (response) => response.url().includes('/sign/interactive/device?') && response.status() === 303,
    { timeout: 60_000 },
  );
  const finalUrl = redirect.headers().location;
  if (!finalUrl.startsWith(callback)) throw new Error(`redirected to ${finalUrl}, not ${callback}`);
  console.log(JSON.stringify({ signingPage, finalUrl, consoleErrors }));
} finally {
  await browser.close();
}

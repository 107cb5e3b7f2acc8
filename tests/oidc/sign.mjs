// Play the citizen: open an esignd signing link, press Sign (or Cancel), log in at the provider
// (or cancel there), and print where the browser ends up — the eService callback — as JSON with
// the pages seen on the way.
//
//   node sign.mjs URL CALLBACK_PREFIX LOGIN [start|cancel] [abort]
import { browse } from './agent.mjs';

const [url, stopAt, login, form = 'start', abort] = process.argv.slice(2);
const { url: landed, pages } = await browse(url, { login, stopAt, form, abort: abort === 'abort' });
console.log(JSON.stringify({ url: landed, pages: pages.map(({ url: at, status, html }) => ({ url: at, status, html })) }));

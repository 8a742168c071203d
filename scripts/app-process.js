'use strict';
/**
 * Starting the apps as their own processes, for `npm run demo` and the sync bench: `apps/<name>/dist/main.js`
 * (with `preload` modules, `node -r`), output copied to `logFile` and kept in `app.text`, and `app.listeners`
 * told of each piece of output. `onStart(app)` sees the process at once, so a caller can stop it even if it never
 * gets ready. Resolves with the app once it logs `listening on HOST:PORT` (`app.address`); rejects if it exits
 * before that, with the end of its output.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const READY = /listening on (\S+:\d+)/;

function startAppProcess({ name, label, env, logFile, preload = [], onStart }) {
  return new Promise((resolve, reject) => {
    const out = fs.createWriteStream(logFile);
    const args = [...preload.flatMap((m) => ['-r', m]), path.join(ROOT, `apps/${name}/dist/main.js`)];
    const proc = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const app = { name, label, proc, text: '', logFile, listeners: [], address: undefined };
    onStart?.(app);
    const onData = (d) => {
      const s = d.toString('utf8');
      app.text += s;
      out.write(d);
      for (const l of app.listeners) l(s);
      if (app.address) return;
      const m = READY.exec(app.text);
      if (m) {
        app.address = m[1].replace(/[;,]$/, '');
        resolve(app);
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => {
      out.end();
      if (!app.address) reject(new Error(`${label} exited with ${code} before it was ready; see ${logFile}:\n${app.text.slice(-2000)}`));
    });
  });
}

module.exports = { startAppProcess };

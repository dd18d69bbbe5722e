// The console's shell: the navigation bar, the hash router, sign-in on 401.
//
// A view module (registered in views.js) exports `render(root, route, ctx)`:
// `root` is the page's main element, `route` the parsed URL (lib/route.js), and
// `ctx.alive()` says whether the view is still on screen, `ctx.fail(err)` shows an
// error (or the sign-in form) from a timer or handler. `render` may return a function
// that stops its timers when the user leaves.

import { views } from './views.js';
import { parse } from './lib/route.js';
import { ApiError, Unauthenticated, authorization, signOut } from './lib/api.js';
import { showSignIn } from './lib/signin.js';
import { h, clear, message } from './lib/dom.js';

const root = document.getElementById('view');
let stop = null;
let generation = 0;

function navigation(current) {
  const nav = document.getElementById('nav');
  clear(nav);
  for (const v of views) {
    const attrs = { href: `#/${v.path}` };
    if (v === current) attrs['aria-current'] = 'page';
    nav.append(h('a', attrs, v.title));
  }
  const who = document.getElementById('who');
  clear(who);
  if (authorization() !== null) {
    who.append(h('button', { type: 'button', class: 'link', id: 'signout', onclick: () => { signOut(); show(); } }, 'Sign out'));
  }
}

/** Shows `err` in place of the view: the sign-in form for a 401, else a message. */
function fail(err, gen) {
  if (gen !== generation) return;
  if (err instanceof Unauthenticated) {
    if (stop) stop();
    stop = null;
    showSignIn(root, () => show());
    return;
  }
  const text = err instanceof ApiError ? `${err.message} (${err.status} ${err.code})` : String(err?.message ?? err);
  const old = root.querySelector(':scope > .msg.error.view-error');
  if (old) old.remove();
  const box = message('error', text);
  box.classList.add('view-error');
  root.prepend(box);
}

async function show() {
  if (stop) stop();
  stop = null;
  generation += 1;
  const gen = generation;
  const route = parse();
  const view = views.find((v) => v.path === (route.path[0] ?? ''));
  navigation(view);
  clear(root);
  if (!view) {
    root.append(message('error', `No such page: ${location.hash}`));
    return;
  }
  const ctx = { alive: () => gen === generation, fail: (err) => fail(err, gen) };
  try {
    const module = await view.load();
    if (gen !== generation) return;
    document.title = `${view.title} · weir`;
    const cleanup = await module.render(root, route, ctx);
    if (gen === generation) stop = typeof cleanup === 'function' ? cleanup : null;
    else if (typeof cleanup === 'function') cleanup();
  } catch (err) {
    fail(err, gen);
  }
}

window.addEventListener('hashchange', show);
show();

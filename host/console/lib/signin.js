// The sign-in form, shown when the API answers 401: a user and password (sent as
// Basic) or a token (sent as Bearer), kept in sessionStorage by api.js.

import { authorization, useBasic, useToken } from './api.js';
import { h, clear, message } from './dom.js';

/** Replaces `root`'s content with the form; calls `done` once credentials are stored. */
export function showSignIn(root, done) {
  clear(root);
  const refused = authorization() !== null;
  const user = h('input', { name: 'user', id: 'signin-user', autocomplete: 'username' });
  const password = h('input', { name: 'password', id: 'signin-password', type: 'password', autocomplete: 'current-password' });
  const token = h('input', { name: 'token', id: 'signin-token', autocomplete: 'off' });
  const form = h(
    'form',
    {
      class: 'signin',
      id: 'signin',
      onsubmit: (e) => {
        e.preventDefault();
        if (token.value.trim() !== '') useToken(token.value);
        else useBasic(user.value, password.value);
        done();
      },
    },
    h('h1', {}, 'Sign in to weir'),
    refused ? message('error', 'The server refused those credentials.') : message('note', 'This server needs credentials.'),
    h('label', { for: 'signin-user' }, 'User'),
    user,
    h('label', { for: 'signin-password' }, 'Password'),
    password,
    h('p', { class: 'or' }, 'or'),
    h('label', { for: 'signin-token' }, 'Token'),
    token,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  root.append(form);
  user.focus();
}

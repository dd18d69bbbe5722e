// A form whose submit runs an action and shows, in place, its note or the API's refusal:
// what the views' create, alter, produce and swap forms share.

import { ApiError } from './api.js';
import { h, clear, message } from './dom.js';

/**
 * Form `id` of `fields` and a `button`; on submit `action(values)` runs and its returned
 * note (or the API's refusal, or a bad input's error) is shown below it. Any other
 * failure goes to `ctx.fail`.
 */
export function form(id, fields, button, action, ctx) {
  const status = h('div', { class: 'form-status' });
  const el = h('form', {
    id,
    class: 'inline',
    onsubmit: async (e) => {
      e.preventDefault();
      clear(status);
      const data = Object.fromEntries(new FormData(el).entries());
      try {
        const note = await action(data);
        if (note) status.append(message('ok', note));
      } catch (err) {
        if (err instanceof ApiError) status.append(message('error', `${err.message} (${err.code})`));
        else if (err instanceof TypeError || err instanceof SyntaxError) status.append(message('error', err.message));
        else ctx.fail(err);
      }
    },
  }, fields, h('button', { type: 'submit' }, button), status);
  return el;
}

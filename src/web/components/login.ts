import { html } from 'htm/preact';
import { useState } from 'preact/hooks';

export function Login({ error, checking, onSubmit }: { error: string | undefined; checking: boolean; onSubmit: (token: string) => void }) {
  const [token, setToken] = useState('');
  return html`<main class="login">
    <form
      class="login-box"
      onSubmit=${(e: Event) => {
        e.preventDefault();
        if (token.trim() !== '') onSubmit(token.trim());
      }}
    >
      <h1>evse-priority</h1>
      <p>Sign in with an API token (one of <code>http.tokens</code>; <code>npm start</code> prints a link with it).</p>
      <label>Access token
        <input name="token" type="password" autocomplete="current-password" value=${token} onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit" disabled=${checking}>${checking ? 'Checking…' : 'Sign in'}</button>
      ${error ? html`<p class="notice bad" role="alert">${error}</p>` : null}
    </form>
  </main>`;
}

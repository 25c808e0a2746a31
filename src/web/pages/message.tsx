/** @module Pages that only say something: errors (404, 400, 500) and the sign-in form of a private registry. */

import { Layout, type Site } from "./layout.js";

export function MessagePage(props: { site: Site; title: string; message: string }) {
  return (
    <Layout site={props.site} title={props.title}>
      <h1>{props.title}</h1>
      <p>{props.message}</p>
      <p>
        <a href="/">Back to the registry's home page</a>
      </p>
    </Layout>
  );
}

/** `next`: the same-origin path to return to (checked by the route). `problem`: why the last try failed. */
export function SignInPage(props: { site: Site; next: string; problem?: string }) {
  return (
    <Layout site={{ ...props.site, private: false }} title="Sign in">
      <h1>Sign in</h1>
      <p>Reads on this registry need a token. Paste a read or publish token (the one in your .npmrc); this browser keeps it in a cookie no script can read, for 7 days.</p>
      {props.problem ? (
        <p class="banner" role="alert">
          {props.problem}
        </p>
      ) : null}
      <form action="/-/web/login" method="post" class="pin-form">
        <input type="hidden" name="next" value={props.next} />
        <label for="token">Token</label>
        <input id="token" type="password" name="token" autocomplete="current-password" required />
        <button type="submit">Sign in</button>
      </form>
    </Layout>
  );
}

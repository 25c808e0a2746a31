/**
 * @module
 * READMEs to HTML, safely. A README is whatever the publisher put in the tarball, so it is
 * rendered as hostile input: markdown-it with raw HTML off (every `<` in the text is escaped, so
 * no tag, attribute or script the author wrote reaches the page), its link check (no
 * `javascript:`, `vbscript:`, `file:` or non-image `data:` URLs), links opened without a
 * referrer or opener and marked user-generated, and images only from https (or inline data
 * images): a relative image path would be resolved against this registry, not the author's repository.
 * The page's Content-Security-Policy (routes.tsx) forbids inline script whatever slips through.
 */

import MarkdownIt from "markdown-it";

const md = new MarkdownIt({ html: false, linkify: true, typographer: false });

const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  const token = tokens[idx]!;
  token.attrSet("rel", "nofollow noopener noreferrer ugc");
  return defaultLinkOpen(tokens, idx, options, env, self);
};

const defaultImage = md.renderer.rules.image!;
md.renderer.rules.image = (tokens, idx, options, env, self) => {
  const token = tokens[idx]!;
  const src = String(token.attrGet("src") ?? "");
  // Anything but an absolute https URL or an inline image becomes its alt text.
  if (!/^https:\/\//i.test(src) && !/^data:image\/(?:gif|png|jpeg|webp);/i.test(src)) return md.utils.escapeHtml(token.content);
  token.attrSet("loading", "lazy");
  token.attrSet("referrerpolicy", "no-referrer");
  return defaultImage(tokens, idx, options, env, self);
};

// The page's own <h1> is the package name: README headings start one level down (h1 → h2 … h5 → h6).
const demote = (token: { tag: string }) => {
  const level = /^h([1-6])$/.exec(token.tag);
  if (level) token.tag = `h${Math.min(6, Number(level[1]) + 1)}`;
};
md.core.ruler.push("demote_headings", (state) => {
  for (const token of state.tokens) if (token.type === "heading_open" || token.type === "heading_close") demote(token);
  return true;
});

/** The README's HTML. Never throws: markdown-it renders any text. */
export function renderReadme(text: string): string {
  return md.render(text);
}

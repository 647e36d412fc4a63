import { describe, expect, it } from "vitest";
import { html, raw } from "../../src/web/html.js";

describe("html", () => {
  it("escapes every interpolated value unless it is Html already", () => {
    const name = `<script>alert("x")</script> & 'quotes'`;
    expect(html`<p title="${name}">${name}</p>`.text).toBe(
      "<p title=\"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;\">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;</p>",
    );
    expect(html`<ul>${["<a>", html`<li>${"<b>"}</li>`, raw("<hr>")]}</ul>`.text).toBe("<ul>&lt;a&gt;<li>&lt;b&gt;</li><hr></ul>");
  });

  it("leaves out null, undefined and false, and writes numbers and true", () => {
    expect(html`${null}${undefined}${false}${0}${true}`.text).toBe("0true");
  });
});

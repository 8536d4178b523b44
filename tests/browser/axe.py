"""axe-core (vendored in tests/browser/vendor/axe-core) run on a Playwright page.

How axe gets into the page: the site's Content-Security-Policy allows scripts from the app only
(``script-src 'self'``, no inline script), so ``page.add_script_tag(path=...)`` or
``add_script_tag(content=...)``, which insert an inline ``<script>``, are refused (with a console
error that fails the test). A context with ``bypass_csp=True`` would work, but it would test a
page whose policy is switched off, and the ``page`` fixture's context would have to change for
it. Instead the file's text is evaluated through Playwright's ``page.evaluate``: DevTools'
Runtime.evaluate runs it in the page's main world, which CSP does not govern (it restricts what
the page loads and what the page's own scripts eval), and axe itself needs no eval.
"""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")
# Node targets shown per violation: enough to find the element, not a page of selectors.
TARGETS_SHOWN = 3
# axe's default rule set (WCAG 2.x A and AA, and its best practices; experimental rules off),
# on the whole document. resultTypes only trims what comes back: violations are still complete.
RUN = """async () => {
  const results = await window.axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map((node) => node.target.map(String).join(" >>> ")),
  }));
}"""


def inject(page) -> None:
    """Put axe-core into ``page`` (once), whatever its Content-Security-Policy."""
    if page.evaluate("typeof window.axe === 'object'"):
        return
    # Wrapped in a function so the bundle's `this` and its var declarations stay local; its UMD
    # header sets window.axe when there is no module system.
    page.evaluate("() => {\n" + AXE.read_text(encoding="utf-8") + "\n}")
    if not page.evaluate("typeof window.axe === 'object' && typeof window.axe.run === 'function'"):
        raise AssertionError(f"{AXE} did not define window.axe in the page")


def violations(page) -> list[dict]:
    """axe-core's violations on the whole document of ``page``: id, impact, help, targets."""
    inject(page)
    return page.evaluate(RUN)


def serious_violations(page) -> list[str]:
    """One readable line per serious or critical axe-core violation on ``page``'s document."""
    lines = []
    for found in violations(page):
        if found["impact"] not in SERIOUS:
            continue
        targets = found["targets"]
        shown = ", ".join(targets[:TARGETS_SHOWN])
        more = f" and {len(targets) - TARGETS_SHOWN} more" if len(targets) > TARGETS_SHOWN else ""
        lines.append(f"{found['id']} ({found['impact']}): {found['help']} "
                     f"[{len(targets)} node(s): {shown}{more}]")
    return lines

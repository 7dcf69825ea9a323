/** The stylesheet of the demo and reference pages (served as /assets/style.<hash>.css, immutable). */
export const STYLE_CSS = `
:root { color-scheme: light dark; --fg: #1b1d21; --bg: #f6f6f3; --card: #fff; --muted: #676b73; --line: #d9dad6; --accent: #2f5bd3; }
@media (prefers-color-scheme: dark) { :root { --fg: #e8e8e6; --bg: #16171a; --card: #202226; --muted: #9a9ea6; --line: #34363b; --accent: #7fa2ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 60rem; margin: 0 auto; padding: 0.75rem 1rem; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.5rem 1.25rem; }
header h1 { font-size: 1.25rem; margin: 0; }
header nav { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; font-size: 0.95rem; }
a { color: var(--accent); }
.lede { color: var(--muted); margin: 0 0 0.5rem; }
.studio { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1rem; align-items: start; }
@media (max-width: 40rem) { .studio { grid-template-columns: minmax(0, 1fr); } }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 0.6rem; padding: 0.9rem; }
figure { margin: 0; display: flex; flex-direction: column; align-items: center; gap: 0.5rem; }
.pixels { image-rendering: pixelated; image-rendering: crisp-edges; background: #000; }
#image { width: 100%; max-width: 20rem; height: auto; aspect-ratio: 1; border-radius: 0.3rem; }
figcaption { width: 100%; max-width: 20rem; font-size: 0.9rem; color: var(--muted); }
progress { width: 100%; height: 0.5rem; }
.row { display: flex; justify-content: space-between; gap: 0.5rem; flex-wrap: wrap; }
form { display: grid; grid-template-columns: auto minmax(0, 1fr); gap: 0.6rem 0.75rem; align-items: center; }
label { font-size: 0.95rem; }
select, input, button { font: inherit; min-height: 2.5rem; border-radius: 0.4rem; border: 1px solid var(--line); background: var(--bg); color: var(--fg); padding: 0.3rem 0.5rem; min-width: 0; }
.seed { display: flex; gap: 0.4rem; }
.seed input { flex: 1; }
button { cursor: pointer; }
button.primary { background: var(--accent); color: #fff; border-color: var(--accent); font-weight: 600; }
.actions { grid-column: 1 / -1; display: flex; gap: 0.5rem; flex-wrap: wrap; }
.actions button { flex: 1; }
.check { grid-column: 1 / -1; display: flex; gap: 0.5rem; align-items: center; }
.check input { min-height: auto; }
.error { color: #c0392b; }
.gallery h2 { font-size: 1.05rem; margin: 0 0 0.5rem; }
#history { display: grid; grid-template-columns: repeat(auto-fill, minmax(4.5rem, 1fr)); gap: 0.4rem; }
#history button { padding: 0; border: 0; background: none; }
#history img { width: 100%; aspect-ratio: 1; display: block; border-radius: 0.25rem; }
#grid { width: 100%; max-width: 28rem; display: block; margin: 0.5rem auto 0; }
[hidden] { display: none !important; }
.gallery { margin-top: 1rem; }
.cold { margin-top: 1rem; }
.cold h2 { font-size: 1.05rem; margin: 0 0 0.5rem; }
.cold output { min-width: 2.5rem; align-self: center; text-align: right; }
.strip { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 0.5rem; margin: 0.75rem 0 0.5rem; }
.strip img { width: 100%; height: auto; aspect-ratio: 1; border-radius: 0.3rem; }
.strip figcaption { text-align: center; }
#cold-status { font-size: 0.9rem; color: var(--muted); }
footer { color: var(--muted); font-size: 0.85rem; }
/* API reference */
.op { margin: 1rem 0; }
.op h3 { margin: 0 0 0.25rem; font-size: 1.05rem; word-break: break-all; }
.method { display: inline-block; font-size: 0.8rem; font-weight: 700; padding: 0.05rem 0.4rem; border-radius: 0.25rem; background: var(--accent); color: #fff; margin-right: 0.4rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; vertical-align: top; border-top: 1px solid var(--line); padding: 0.35rem 0.4rem; }
.scroll { overflow-x: auto; }
code { font-size: 0.88em; word-break: break-word; }
`;

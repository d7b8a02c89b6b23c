"""The endpoint's HTML page: a query editor, the example queries one click away, results as a table."""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>smnpc-kg SPARQL</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
 h1 { font-size: 1.3rem; } #layout { display: flex; gap: 1.5rem; }
 #examples { width: 22rem; max-height: 36rem; overflow-y: auto; font-size: .85rem; }
 #examples button { display: block; width: 100%; text-align: left; margin: .15rem 0; padding: .3rem; cursor: pointer;
                    border: 1px solid #ccc; background: #f7f7f7; border-radius: 4px; }
 #examples button:hover { background: #e8f0fe; }
 #main { flex: 1; } textarea { width: 100%; height: 16rem; font-family: monospace; font-size: .85rem; }
 table { border-collapse: collapse; font-size: .8rem; margin-top: 1rem; }
 td, th { border: 1px solid #ccc; padding: .2rem .4rem; vertical-align: top; } th { background: #eee; }
 #status { margin-top: .5rem; font-size: .85rem; color: #555; } .error { color: #b00020; white-space: pre-wrap; }
</style></head>
<body>
<h1>smnpc-kg — evidence on nasopharyngeal carcinoma with synchronous metastasis</h1>
<p>SPARQL 1.1 over the knowledge graph (read-only). The project's prefixes (<code>smo:</code>, <code>study:</code>,
<code>result:</code>, <code>quote:</code>, ...) need no declaration.</p>
<div id="layout">
 <div id="examples"><strong>Example queries</strong><div id="example-list">loading…</div></div>
 <div id="main">
  <textarea id="query" spellcheck="false">SELECT ?study ?n WHERE { ?study smo:referenceNumber ?ref ; smo:sampleSize ?n } ORDER BY ?ref LIMIT 10</textarea>
  <div><button id="run">Run query</button> <span id="status"></span></div>
  <div id="results"></div>
 </div>
</div>
<script>
const el = id => document.getElementById(id);
function cell(b) {
  if (!b) return "";
  return b.value;
}
async function run() {
  el("status").textContent = "running…"; el("results").innerHTML = "";
  const started = performance.now();
  const resp = await fetch("sparql", { method: "POST",
      headers: { "Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json" },
      body: el("query").value });
  const text = await resp.text();
  if (!resp.ok) { el("status").textContent = ""; el("results").innerHTML = '<p class="error"></p>';
                  el("results").firstChild.textContent = resp.status + " " + text; return; }
  const data = JSON.parse(text);
  const table = document.createElement("table"); table.id = "results-table";
  if ("boolean" in data) { el("results").textContent = data.boolean ? "yes" : "no"; }
  else {
    const head = table.insertRow(); data.head.vars.forEach(v => { const th = document.createElement("th"); th.textContent = v; head.appendChild(th); });
    data.results.bindings.forEach(b => { const r = table.insertRow(); data.head.vars.forEach(v => { r.insertCell().textContent = cell(b[v]); }); });
    el("results").appendChild(table);
  }
  const n = data.results ? data.results.bindings.length : 1;
  el("status").textContent = n + " row(s) in " + Math.round(performance.now() - started) + " ms";
}
async function loadExamples() {
  const list = await (await fetch("examples")).json();
  const box = el("example-list"); box.textContent = "";
  list.forEach(q => { const b = document.createElement("button"); b.textContent = q.title; b.title = q.description;
    b.dataset.name = q.name; b.onclick = () => { el("query").value = q.query; run(); }; box.appendChild(b); });
}
el("run").onclick = run;
loadExamples();
</script>
</body></html>
"""


def page_html() -> str:
    return PAGE

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** The dashboard's HTML shell; `base` is the admin prefix as the browser sees it, e.g. `/api/kostrack`. */
export function renderDashboardPage(base: string): string {
  const b = escapeHtml(base);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="kostrack-base" content="${b}">
<title>Kostrack · LLM costs</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${b}/dashboard.css">
</head>
<body>
<div id="app"><p class="muted">Loading…</p></div>
<script type="module" src="${b}/dashboard.js"></script>
</body>
</html>
`;
}

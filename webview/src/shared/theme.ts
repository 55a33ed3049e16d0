/// <reference lib="dom" />
// Chart colours and fonts from VS Code's theme variables, re-read whenever the theme
// changes (VS Code swaps the body class vscode-light / vscode-dark / vscode-high-contrast).

export interface Theme {
  kind: 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';
  foreground: string;
  muted: string;
  grid: string;
  background: string;
  focus: string;
  fontFamily: string;
  fontSize: number;
  red: string;
  blue: string;
  green: string;
  yellow: string;
  orange: string;
  purple: string;
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const value = style.getPropertyValue(name).trim();
  return value || fallback;
}

export function themeKind(): Theme['kind'] {
  const c = document.body.classList;
  if (c.contains('vscode-high-contrast-light')) return 'high-contrast-light';
  if (c.contains('vscode-high-contrast')) return 'high-contrast';
  if (c.contains('vscode-light')) return 'light';
  return 'dark';
}

export function readTheme(): Theme {
  const style = getComputedStyle(document.body);
  const kind = themeKind();
  const dark = kind === 'dark' || kind === 'high-contrast';
  const foreground = cssVar(style, '--vscode-editor-foreground', dark ? '#cccccc' : '#3b3b3b');
  return {
    kind,
    foreground,
    muted: cssVar(style, '--vscode-descriptionForeground', dark ? '#9d9d9d' : '#717171'),
    grid: cssVar(style, '--vscode-charts-lines', dark ? 'rgba(128,128,128,0.35)' : 'rgba(128,128,128,0.3)'),
    background: cssVar(style, '--vscode-editor-background', dark ? '#1f1f1f' : '#ffffff'),
    focus: cssVar(style, '--vscode-focusBorder', '#0078d4'),
    fontFamily: cssVar(style, '--vscode-font-family', 'system-ui, sans-serif'),
    fontSize: parseFloat(cssVar(style, '--vscode-font-size', '13px')) || 13,
    red: cssVar(style, '--vscode-charts-red', '#f14c4c'),
    blue: cssVar(style, '--vscode-charts-blue', '#3794ff'),
    green: cssVar(style, '--vscode-charts-green', '#89d185'),
    yellow: cssVar(style, '--vscode-charts-yellow', '#cca700'),
    orange: cssVar(style, '--vscode-charts-orange', '#d18616'),
    purple: cssVar(style, '--vscode-charts-purple', '#b180d7'),
  };
}

/** Calls `listener` after each theme switch; returns a function that stops observing. */
export function onThemeChange(listener: (theme: Theme) => void): () => void {
  let last = document.body.className;
  const observer = new MutationObserver(() => {
    if (document.body.className === last) return;
    last = document.body.className;
    listener(readTheme());
  });
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  return () => observer.disconnect();
}

/** `color` with alpha, for #rgb/#rrggbb/#rrggbbaa and rgb()/rgba() inputs (others unchanged). */
export function withAlpha(color: string, alpha: number): string {
  const c = color.trim();
  const hex = /^#([0-9a-f]{3,8})$/i.exec(c);
  if (hex) {
    let digits = hex[1];
    if (digits.length === 3 || digits.length === 4) digits = [...digits].map((d) => d + d).join('');
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(digits.slice(i, i + 2), 16));
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }
  const rgb = /^rgba?\(([^)]+)\)$/i.exec(c);
  if (rgb) {
    const [r, g, b] = rgb[1].split(/[\s,/]+/).filter(Boolean);
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }
  return c;
}

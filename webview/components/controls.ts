/**
 * The dashboard's controls: small factories over the toolkit's custom elements, so the rest of the
 * webview never names a toolkit tag or event. All are keyboard-usable (the elements are focusable
 * and react to Enter/Space; the dropdown to the arrow keys).
 */
import { registerComponents } from './toolkit';

registerComponents();

export interface ButtonOptions {
  id?: string;
  /** "primary" (default) or "secondary". */
  appearance?: 'primary' | 'secondary' | 'icon';
  title?: string;
  disabled?: boolean;
}

export function button(label: string, onClick: () => void, options: ButtonOptions = {}): HTMLElement {
  const b = document.createElement('vscode-button');
  b.textContent = label;
  if (options.id) b.id = options.id;
  if (options.appearance) b.setAttribute('appearance', options.appearance);
  if (options.title) {
    b.title = options.title;
    b.setAttribute('aria-label', options.title);
  }
  setDisabled(b, options.disabled ?? false);
  b.addEventListener('click', () => {
    if (!b.hasAttribute('disabled')) onClick();
  });
  return b;
}

export function setDisabled(control: HTMLElement, disabled: boolean): void {
  if (disabled) control.setAttribute('disabled', '');
  else control.removeAttribute('disabled');
}

export function checkbox(
  label: string,
  checked: boolean,
  onChange: (checked: boolean) => void,
  value?: string,
): HTMLElement {
  const c = document.createElement('vscode-checkbox') as HTMLElement & { checked: boolean };
  c.textContent = label;
  if (value !== undefined) c.dataset.value = value;
  c.checked = checked;
  if (checked) c.setAttribute('checked', '');
  c.addEventListener('change', () => onChange(c.checked));
  return c;
}

export function isChecked(control: HTMLElement): boolean {
  return Boolean((control as HTMLElement & { checked?: boolean }).checked);
}

export interface SelectOption {
  value: string;
  label: string;
}

/** A dropdown; `onChange` gets the chosen value. */
export function select(
  options: SelectOption[],
  value: string | undefined,
  onChange: (value: string) => void,
  ariaLabel: string,
): HTMLElement {
  const d = document.createElement('vscode-dropdown') as HTMLElement & { value: string };
  d.setAttribute('aria-label', ariaLabel);
  setOptions(d, options, value);
  d.addEventListener('change', () => onChange(d.value));
  return d;
}

export function setOptions(control: HTMLElement, options: SelectOption[], value: string | undefined): void {
  control.replaceChildren(
    ...options.map((o) => {
      const opt = document.createElement('vscode-option');
      opt.setAttribute('value', o.value);
      opt.textContent = o.label;
      if (o.value === value) opt.setAttribute('selected', '');
      return opt;
    }),
  );
  if (value !== undefined) (control as HTMLElement & { value: string }).value = value;
}

export function badge(text: string): HTMLElement {
  const b = document.createElement('vscode-badge');
  b.textContent = text;
  return b;
}

export function divider(): HTMLElement {
  return document.createElement('vscode-divider');
}

export function spinner(): HTMLElement {
  const s = document.createElement('vscode-progress-ring');
  s.setAttribute('aria-label', 'running');
  return s;
}

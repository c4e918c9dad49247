/**
 * The ONLY module that imports @vscode/webview-ui-toolkit (archived by Microsoft in January 2025).
 * Switching to @vscode-elements/elements means changing this file and controls.ts (tag names and
 * the value/checked events), nothing else: the dashboard builds its controls through controls.ts.
 */
import {
  provideVSCodeDesignSystem,
  vsCodeBadge,
  vsCodeButton,
  vsCodeCheckbox,
  vsCodeDivider,
  vsCodeDropdown,
  vsCodeOption,
  vsCodeProgressRing,
} from '@vscode/webview-ui-toolkit';

let registered = false;

export function registerComponents(): void {
  if (registered) return;
  registered = true;
  provideVSCodeDesignSystem().register(
    vsCodeButton(),
    vsCodeCheckbox(),
    vsCodeDropdown(),
    vsCodeOption(),
    vsCodeBadge(),
    vsCodeDivider(),
    vsCodeProgressRing(),
  );
}

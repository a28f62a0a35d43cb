import { html, render } from 'htm/preact';
import 'uplot/dist/uPlot.min.css';
import { App } from './app.js';
import './style.css';

const root = document.getElementById('app');
if (root) render(html`<${App} />`, root);

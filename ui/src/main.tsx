import { render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { App } from './App';

render(<App />, document.getElementById('app')!);

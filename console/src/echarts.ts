// ECharts with only what the console draws (tree-shaken), canvas renderer.
import * as echarts from 'echarts/core';
import { BarChart, LineChart, ScatterChart } from 'echarts/charts';
import { DataZoomComponent, GridComponent, LegendComponent, TooltipComponent, TitleComponent, MarkPointComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([BarChart, LineChart, ScatterChart, GridComponent, LegendComponent, TooltipComponent, TitleComponent, DataZoomComponent, MarkPointComponent, CanvasRenderer]);

export const init = (el: HTMLElement) => echarts.init(el, undefined, { renderer: 'canvas' });
export type Chart = ReturnType<typeof init>;

// The console's views, one line each: the first segment of the view's URL
// (`#/topics/...`), its title in the navigation bar, and its module. A view module
// exports `render(root, route, ctx)` (see app.js).
export const views = [
  { path: '', title: 'Overview', load: () => import('./views/overview.js') },
  { path: 'topics', title: 'Topics', load: () => import('./views/topics.js') },
  { path: 'groups', title: 'Groups', load: () => import('./views/groups.js') },
  { path: 'modules', title: 'Modules', load: () => import('./views/modules.js') },
  { path: 'pipelines', title: 'Pipelines', load: () => import('./views/pipelines.js') },
  { path: 'connectors', title: 'Connectors', load: () => import('./views/connectors.js') },
];

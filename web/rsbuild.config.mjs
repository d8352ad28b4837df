// rsbuild.config.mjs -- the dashcgi UI bundle.
//
// rspack rather than Vite: @perses-dev/plugin-system hands the plugin
// remotes their shared singletons with `lib: () => require('…')` inside
// ES modules, which rspack bundles as written; the remotes themselves are
// the prebuilt module-federation assets of the npm plugin packages,
// copied to dist/plugins by scripts/plugins.mjs.
import { fileURLToPath } from 'node:url';
import { defineConfig } from '@rsbuild/core';
import { pluginReact } from '@rsbuild/plugin-react';

export default defineConfig({
	plugins: [pluginReact()],
	html: { title: 'dashcgi', template: './index.html' },
	source: { entry: { index: './src/index.jsx' } },
	output: {
		distPath: { root: 'dist' },
		assetPrefix: '/',
		// No source maps in the package: they would double its size.
		sourceMap: { js: false, css: false },
		legalComments: 'none',
	},
	tools: {
		rspack: (config, { rspack }) => {
			// The plugin host's runtime with lazily shared modules
			// (src/plugin-runtime.js says why).
			config.plugins.push(new rspack.NormalModuleReplacementPlugin(
			    /@perses-dev[\\/]plugin-system[\\/]dist[\\/]remote[\\/]PluginRuntime\.js$/,
			    fileURLToPath(new URL('./src/plugin-runtime.js', import.meta.url))));
		},
	},
	performance: {
		chunkSplit: { strategy: 'split-by-experience' },
	},
	server: {
		// `npm run dev`: the API and plugins from a running nginx.
		proxy: {
			'/api': process.env.DASHCGI_URL || 'http://127.0.0.1:8080',
			'/proxy': process.env.DASHCGI_URL || 'http://127.0.0.1:8080',
		},
	},
});

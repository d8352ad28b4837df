// scripts/plugins.mjs -- copy the Perses plugin packages' module-federation
// assets out of node_modules into dist/plugins/<Module>/ and write
// dist/plugins/index.json, the PluginModule list nginx serves as
// /api/v1/plugins.  Which plugins: every @perses-dev/*-plugin dependency
// in package.json, so adding one is one line there.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const out = path.join(root, 'dist', 'plugins');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

const modules = [];
for (const dep of Object.keys(pkg.dependencies).sort()) {
	if (!/^@perses-dev\/.*-plugin$/.test(dep))
		continue;
	const dir = path.join(root, 'node_modules', dep);
	const ppkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
	const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'mf-manifest.json'), 'utf8'));
	const name = manifest.name;
	if (!/^[A-Za-z0-9_-]+$/.test(name))
		throw new Error(`${dep}: unexpected module name ${name}`);
	const dest = path.join(out, name);
	fs.mkdirSync(dest, { recursive: true });
	// Verbatim: each manifest already points at /plugins/<Module>/ (a
	// publicPath, or a getPublicPath that honours a path prefix).
	fs.copyFileSync(path.join(dir, 'mf-manifest.json'), path.join(dest, 'mf-manifest.json'));
	fs.cpSync(path.join(dir, '__mf'), path.join(dest, '__mf'), { recursive: true });
	if (fs.existsSync(path.join(dir, 'mf-stats.json')))
		fs.copyFileSync(path.join(dir, 'mf-stats.json'), path.join(dest, 'mf-stats.json'));
	const perses = ppkg.perses || {};
	modules.push({
		kind: 'PluginModule',
		metadata: { name, version: ppkg.version },
		spec: { schemasPath: perses.schemasPath || 'schemas', plugins: perses.plugins || [] },
		status: { isLoaded: true, inDev: false },
	});
}
fs.writeFileSync(path.join(out, 'index.json'), JSON.stringify(modules, null, 1) + '\n');
console.log(`plugins: ${modules.map((m) => m.metadata.name).join(', ')}`);

// plugin-runtime.js -- @perses-dev/plugin-system's remote/PluginRuntime.js
// (0.52.0) as the bundle uses it instead of the package's (rsbuild's
// NormalModuleReplacementPlugin): the same module-federation host and
// shared singletons, but the shared modules only plugins ask for are
// handed over by `get` (a chunk of their own, loaded when a plugin first
// asks) instead of `lib: () => require(…)`, which put all of echarts,
// date-fns, lodash, @perses-dev/explore and the 7,000 icons of
// mdi-material-ui into the chunk every dashboard page parses before its
// first panel.  What the host itself imports stays `lib`.
//
// Copyright 2024 The Perses Authors; Licensed under the Apache License,
// Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0), as the
// original.
/* eslint-disable */
import { createInstance } from '@module-federation/enhanced/runtime';
import * as ReactQuery from '@tanstack/react-query';
import React from 'react';
import ReactDOM from 'react-dom';
import * as ReactHookForm from 'react-hook-form';
import * as ReactRouterDOM from 'react-router-dom';
let instance = null;
const getPluginRuntime = ()=>{
    if (instance === null) {
        const pluginRuntime = createInstance({
            name: '@perses/perses-ui-host',
            remotes: [],
            shared: {
                react: {
                    version: React.version,
                    lib: ()=>React,
                    shareConfig: {
                        singleton: true,
                        requiredVersion: `^${React.version}`
                    }
                },
                'react-dom': {
                    version: '18.3.1',
                    lib: ()=>ReactDOM,
                    shareConfig: {
                        singleton: true,
                        requiredVersion: `^18.3.1`
                    }
                },
                'react-router-dom': {
                    version: '6.26.0',
                    lib: ()=>ReactRouterDOM,
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^6.26.0'
                    }
                },
                '@tanstack/react-query': {
                    version: '4.39.1',
                    lib: ()=>ReactQuery,
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^4.39.1'
                    }
                },
                'react-hook-form': {
                    version: '7.52.2',
                    lib: ()=>ReactHookForm,
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^7.52.2'
                    }
                },
                echarts: {
                    version: '5.5.0',
                    get: ()=>import('echarts').then((m)=>()=>m),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^5.5.0'
                    }
                },
                '@perses-dev/core': {
                    version: '0.51.0-rc.1',
                    lib: ()=>require('@perses-dev/core'),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^0.51.0-rc.1'
                    }
                },
                '@perses-dev/components': {
                    version: '0.51.0-rc.1',
                    lib: ()=>require('@perses-dev/components'),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^0.51.0-rc.1'
                    }
                },
                '@perses-dev/plugin-system': {
                    version: '0.51.0-rc.1',
                    lib: ()=>require('@perses-dev/plugin-system'),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^0.51.0-rc.1'
                    }
                },
                '@perses-dev/explore': {
                    version: '0.51.0-rc.1',
                    get: ()=>import('@perses-dev/explore').then((m)=>()=>m),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^0.51.0-rc.1'
                    }
                },
                '@perses-dev/dashboards': {
                    version: '0.51.0-rc.1',
                    lib: ()=>require('@perses-dev/dashboards'),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^0.51.0-rc.1'
                    }
                },
                // Below are the shared modules that are used by the plugins, this can be part of the SDK
                'date-fns': {
                    version: '4.1.0',
                    get: ()=>import('date-fns').then((m)=>()=>m),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^4.1.0'
                    }
                },
                'date-fns-tz': {
                    version: '3.2.0',
                    get: ()=>import('date-fns-tz').then((m)=>()=>m),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^3.2.0'
                    }
                },
                lodash: {
                    version: '4.17.21',
                    get: ()=>import('lodash').then((m)=>()=>m),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^4.17.21'
                    }
                },
                '@emotion/react': {
                    version: '11.11.3',
                    lib: ()=>require('@emotion/react'),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^11.11.3'
                    }
                },
                '@emotion/styled': {
                    version: '11.11.0',
                    lib: ()=>require('@emotion/styled'),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^11.11.0'
                    }
                },
                '@hookform/resolvers/zod': {
                    version: '3.3.4',
                    get: ()=>import('@hookform/resolvers/zod').then((m)=>()=>m),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^3.3.4'
                    }
                },
                'use-resize-observer': {
                    version: '9.1.0',
                    get: ()=>import('use-resize-observer').then((m)=>()=>m),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^9.1.0'
                    }
                },
                'mdi-material-ui': {
                    version: '7.4.0',
                    get: ()=>import('mdi-material-ui').then((m)=>()=>m),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^7.4.0'
                    }
                },
                immer: {
                    version: '10.1.1',
                    get: ()=>import('immer').then((m)=>()=>m),
                    shareConfig: {
                        singleton: true,
                        requiredVersion: '^10.1.1'
                    }
                }
            }
        });
        instance = pluginRuntime;
        return instance;
    }
    return instance;
};
const registerRemote = (name, baseURL)=>{
    const pluginRuntime = getPluginRuntime();
    const existingRemote = pluginRuntime.options.remotes.find((remote)=>remote.name === name);
    if (!existingRemote) {
        const remoteEntryURL = baseURL ? `${baseURL}/${name}/mf-manifest.json` : `/plugins/${name}/mf-manifest.json`;
        pluginRuntime.registerRemotes([
            {
                name,
                entry: remoteEntryURL,
                alias: name
            }
        ]);
    }
};
export const loadPlugin = async (moduleName, pluginName, baseURL)=>{
    registerRemote(moduleName, baseURL);
    const pluginRuntime = getPluginRuntime();
    return pluginRuntime.loadRemote(`${moduleName}/${pluginName}`);
};
export function usePluginRuntime({ plugin }) {
    return {
        pluginRuntime: getPluginRuntime(),
        loadPlugin: ()=>loadPlugin(plugin.moduleName, plugin.name, plugin.baseURL)
    };
}

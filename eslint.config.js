// ESLint (flat config): typescript-eslint's type-checked rules over every TypeScript file.
// Formatting is Prettier's (npm run format); `npm run lint` fails on any warning.
import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'reports/', '.stryker-tmp/', 'node_modules/', 'scripts/local-action/', 'coverage/'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    }
  },
  {
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { globals: { ...globals.node } }
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' }
  }
)

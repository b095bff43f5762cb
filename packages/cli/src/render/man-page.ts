/**
 * The man page (`shmsnap man`, roff for man(1)), generated from the command
 * definitions (render/command-model.ts): every command with its usage,
 * description, arguments and options (default, choices, environment
 * variable, configuration key), then configuration, environment, files and
 * exit statuses from the tables the code uses.
 */
import { CONFIG_PATH_ENV, DEFAULT_CONFIG_PATH } from '../config.js';
import { EXIT_STATUSES } from '../exit-codes.js';
import type { ArgumentModel, CommandModel, OptionModel, ProgramModel } from './command-model.js';

/** Text for roff: backslashes and hyphens escaped (options stay typeable), anything not ASCII as its code point. */
export function roffText(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/[^\x20-\x7e]/gu, (c) => (/\s/.test(c) ? ' ' : `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`));
}

/** A line of running text: a leading period or quote would be read as a request. */
function textLine(text: string): string {
  const escaped = roffText(text);
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

const bold = (text: string): string => `\\fB${roffText(text)}\\fR`;
const italic = (text: string): string => `\\fI${roffText(text)}\\fR`;

/** `-q, --quiet` and `--to <location>` as a man page sets them: names bold, the value italic. */
function optionTerm(option: OptionModel): string {
  const names = option.names.map(bold).join(', ');
  return option.value === undefined ? names : `${names} ${italic(option.value)}`;
}

function optionText(option: OptionModel): string[] {
  const facts = [
    ...(option.choices ? [`One of: ${option.choices.join(', ')}.`] : []),
    ...(option.default === undefined ? [] : [`Default: ${option.default}.`]),
    ...(option.envVars.length > 0 ? [`Environment: ${option.envVars.join(', ')}.`] : []),
    ...(option.key === undefined ? [] : [`Configuration key: ${option.key}.`]),
  ];
  const description = option.description.endsWith('.') || option.description.endsWith(')') ? option.description : `${option.description}.`;
  return ['.TP', optionTerm(option), textLine(`${description.charAt(0).toUpperCase()}${description.slice(1)}`), ...(facts.length > 0 ? ['.br', textLine(facts.join(' '))] : [])];
}

function argumentText(argument: ArgumentModel): string[] {
  const choices = argument.choices ? ` One of: ${argument.choices.join(', ')}.` : '';
  return ['.TP', italic(argument.name), textLine(`${argument.description || (argument.required ? 'Required.' : 'Optional.')}${choices}`)];
}

function commandSection(program: ProgramModel, command: CommandModel): string[] {
  return [
    `.SS ${command.name}`,
    `${bold(`${program.name} ${command.name}`)} ${roffText(command.usage)}`,
    '.PP',
    textLine(command.description || command.summary),
    ...command.arguments.flatMap(argumentText),
    ...command.options.flatMap(optionText),
  ];
}

export function manPage(program: ProgramModel): string {
  const name = program.name;
  const title = name.toUpperCase();
  const version = program.version === undefined ? name : `${name} ${program.version}`;
  const lines = [
    `.\\" Generated from the command definitions by \`${name} man\`; do not edit.`,
    `.TH ${title} 1 "" "${roffText(version)}" "User Commands"`,
    // No hyphenation, ragged right: flags and locations stay whole, as they are typed.
    '.nh',
    '.ad l',
    '.SH NAME',
    `${name} \\- ${roffText(program.summary)}`,
    '.SH SYNOPSIS',
    `${bold(name)} ${italic('command')} [${italic('options')}]`,
    ...program.commands.flatMap((c) => ['.br', `${bold(`${name} ${c.name}`)} ${roffText(c.usage)}`]),
    '.SH DESCRIPTION',
    textLine(program.description),
    '.SH OPTIONS',
    ...program.options.flatMap(optionText),
    '.SH COMMANDS',
    ...program.commands.flatMap((c) => commandSection(program, c)),
    '.SH CONFIGURATION',
    textLine(
      `Every option can also be set in the environment (SHMSNAP_ and the option's name: --max-age is SHMSNAP_MAX_AGE; boolean flags take true, false, 1 or 0; an empty variable counts as unset) and in a JSON configuration file, ${DEFAULT_CONFIG_PATH} or the file ${CONFIG_PATH_ENV} names. Precedence: flag, then environment, then file, then default.`,
    ),
    '.PP',
    textLine(
      `The file holds an object whose keys are options without their dashes ("threads": 4, "max-age": "12h", "progress": false), applying to every command that has the option, and objects named after a command ("restore": { "max-age": "12h" }) for that command only, which win over the top level. Values are read as the flag reads them. An unknown key, a key the command does not have, or a bad value is a one-line CONFIG_INVALID (exit 2) naming the file or variable and the key.`,
    ),
    '.PP',
    textLine(`${name} config prints the value each option of each command gets and where it comes from, with credential-like values redacted.`),
    '.SH ENVIRONMENT',
    '.TP',
    bold(CONFIG_PATH_ENV),
    textLine(`The configuration file to read instead of ${DEFAULT_CONFIG_PATH} (which must then exist); empty: none.`),
    '.TP',
    bold('SHMSNAP_<OPTION>'),
    textLine('The value of an option (listed with each option above).'),
    '.TP',
    bold('SHMSNAP_DEBUG'),
    textLine('When set, an unexpected error also prints its stack.'),
    '.TP',
    bold('SHMSNAP_NATIVE_PATH'),
    textLine('Another build of the shared-memory addon to load.'),
    '.TP',
    bold('TERM'),
    textLine('dumb: progress as lines, never a bar redrawn in place.'),
    '.TP',
    bold('AWS_*'),
    textLine('The AWS SDK\'s own variables (credentials, AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_S3...) for s3:// locations.'),
    '.SH FILES',
    '.TP',
    bold(DEFAULT_CONFIG_PATH),
    textLine('The configuration file, if present.'),
    '.SH "EXIT STATUS"',
    ...EXIT_STATUSES.flatMap(({ status, meaning }) => ['.TP', bold(String(status)), textLine(`${meaning.charAt(0).toUpperCase()}${meaning.slice(1)}.`)]),
    '.SH "SEE ALSO"',
    `${bold('asmt')} (the ASMT command line on the same engine), the README and docs/ of the shmsnap distribution.`,
    '',
  ];
  return lines.join('\n');
}

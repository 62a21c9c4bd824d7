; Inno Setup script for secondme (per-user install, no admin rights needed).
; Built by build_windows.ps1, which passes /DAppVersion=<version>.
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif

[Setup]
AppId={{6F1C2D8E-5B3A-4C1E-9E27-2B7D9A4F0C11}
AppName=secondme
AppVersion={#AppVersion}
AppPublisher=secondme
DefaultDirName={localappdata}\Programs\secondme
DefaultGroupName=secondme
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=secondme-{#AppVersion}-setup
Compression=lzma2
SolidCompression=yes
LicenseFile=..\NOTICES
WizardStyle=modern

[Tasks]
Name: "autostart"; Description: "Start secondme minimised to the tray when I sign in"; Flags: unchecked
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Files]
Source: "..\..\dist\secondme\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion
Source: "..\NOTICES"; DestDir: "{app}"

[Icons]
Name: "{group}\secondme"; Filename: "{app}\secondme.exe"
Name: "{group}\secondme quick recall"; Filename: "{app}\secondme.exe"; Parameters: "--quick-recall"
Name: "{userdesktop}\secondme"; Filename: "{app}\secondme.exe"; Tasks: desktopicon
Name: "{userstartup}\secondme"; Filename: "{app}\secondme.exe"; Parameters: "--minimized"; Tasks: autostart

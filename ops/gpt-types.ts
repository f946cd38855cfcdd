/**
 * GPT partition type GUIDs by the 4-hex-digit codes of sgdisk (gdisk 1.0.9's `sgdisk -L`, each code's GUID read
 * back with `sgdisk -i`), so that recipes written with sgdisk's codes keep working with sfdisk, which takes GUIDs.
 * Several codes name the same GUID. test/unit/partition-types.test.ts checks the table against sgdisk when present.
 */
export const GPT_TYPE_GUIDS: Readonly<Record<string, string>> = {
  '0700': 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7', // Microsoft basic data
  '0701': '558d43c5-a1ac-43c0-aac8-d1472b2923d1', // Microsoft Storage Replica
  '0702': '90b6ff38-b98f-4358-a21f-48f35b4a8ad3', // ArcaOS Type 1
  '0c01': 'e3c9e316-0b5c-4db8-817d-f92df00215ae', // Microsoft reserved
  '2700': 'de94bba4-06d1-4d40-a16a-bfd50179d6ac', // Windows RE
  '3000': '7412f7d5-a156-4b13-81dc-867174929325', // ONIE boot
  '3001': 'd4e6e2cd-4469-46f3-b5cb-1bff57afc149', // ONIE config
  '3900': 'c91818f9-8025-47af-89d2-f030d7000c2c', // Plan 9
  '4100': '9e1a2d38-c612-4316-aa26-8b49521e5a8b', // PowerPC PReP boot
  '4200': 'af9b60a0-1431-4f62-bc68-3311714a69ad', // Windows LDM data
  '4201': '5808c8aa-7e8f-42e0-85d2-e1e90434cfb3', // Windows LDM metadata
  '4202': 'e75caf8f-f680-4cee-afa3-b001e56efc2d', // Windows Storage Spaces
  '7501': '37affc90-ef7d-4e96-91c3-2d7ae055b174', // IBM GPFS
  '7f00': 'fe3a2a5d-4f32-41a7-b725-accc3285a309', // ChromeOS kernel
  '7f01': '3cb8e202-3b7e-47dd-8a3c-7ff2a13cfcec', // ChromeOS root
  '7f02': '2e0a753d-9e48-43b0-8337-b15192cb1b5e', // ChromeOS reserved
  '7f03': 'cab6e88e-abf3-4102-a07a-d4bb9be3c1d3', // ChromeOS firmware
  '7f04': '09845860-705f-4bb5-b16c-8a8a099caf52', // ChromeOS mini-OS
  '7f05': '3f0f8318-f146-4e6b-8222-c28c8f02e0d5', // ChromeOS hibernate
  '8200': '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f', // Linux swap
  '8300': '0fc63daf-8483-4772-8e79-3d69d8477de4', // Linux filesystem
  '8301': '8da63339-0007-60c0-c436-083ac8230908', // Linux reserved
  '8302': '933ac7e1-2eb4-4f13-b844-0e14e2aef915', // Linux /home
  '8303': '44479540-f297-41b2-9af7-d131d5f0458a', // Linux x86 root (/)
  '8304': '4f68bce3-e8cd-4db1-96e7-fbcaf984b709', // Linux x86-64 root (/)
  '8305': 'b921b045-1df0-41c3-af44-4c6f280d3fae', // Linux ARM64 root (/)
  '8306': '3b8f8425-20e0-4f3b-907f-1a25a76f98e8', // Linux /srv
  '8307': '69dad710-2ce4-4e3c-b16c-21a1d49abed3', // Linux ARM32 root (/)
  '8308': '7ffec5c9-2d00-49b7-8941-3ea10a5586b7', // Linux dm-crypt
  '8309': 'ca7d7ccb-63ed-4c53-861c-1742536059cc', // Linux LUKS
  '830a': '993d8d3d-f80e-4225-855a-9daf8ed7ea97', // Linux IA-64 root (/)
  '830b': 'd13c5d3b-b5d1-422a-b29f-9454fdc89d76', // Linux x86 root verity
  '830c': '2c7357ed-ebd2-46d9-aec1-23d437ec2bf5', // Linux x86-64 root verity
  '830d': '7386cdf2-203c-47a9-a498-f2ecce45a2d6', // Linux ARM32 root verity
  '830e': 'df3300ce-d69f-4c92-978c-9bfb0f38d820', // Linux ARM64 root verity
  '830f': '86ed10d5-b607-45bb-8957-d350f23d0571', // Linux IA-64 root verity
  '8310': '4d21b016-b534-45c2-a9fb-5c16e091fd2d', // Linux /var
  '8311': '7ec6f557-3bc5-4aca-b293-16ef5df639d1', // Linux /var/tmp
  '8312': '773f91ef-66d4-49b5-bd83-d683bf40ad16', // Linux user's home
  '8313': '75250d76-8cc6-458e-bd66-bd47cc81a812', // Linux x86 /usr
  '8314': '8484680c-9521-48c6-9c11-b0720656f69e', // Linux x86-64 /usr
  '8315': '7d0359a3-02b3-4f0a-865c-654403e70625', // Linux ARM32 /usr
  '8316': 'b0e01050-ee5f-4390-949a-9101b17104e9', // Linux ARM64 /usr
  '8317': '4301d2a6-4e3b-4b2a-bb94-9e0b2c4225ea', // Linux IA-64 /usr
  '8318': '8f461b0d-14ee-4e81-9aa9-049b6fb97abd', // Linux x86 /usr verity
  '8319': '77ff5f63-e7b6-4633-acf4-1565b864c0e6', // Linux x86-64 /usr verity
  '831a': 'c215d751-7bcd-4649-be90-6627490a4c05', // Linux ARM32 /usr verity
  '831b': '6e11a4e7-fbca-4ded-b9e9-e1a512bb664e', // Linux ARM64 /usr verity
  '831c': '6a491e03-3be7-4545-8e38-83320e0ea880', // Linux IA-64 /usr verity
  '8400': 'd3bfe2de-3daf-11df-ba40-e3a556d89593', // Intel Rapid Start
  '8401': '7c5222bd-8f5d-4087-9c00-bf9843c7b58c', // SPDK block device
  '8500': '5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6', // Container Linux /usr
  '8501': '3884dd41-8582-4404-b9a8-e9b84f2df50e', // Container Linux resizable rootfs
  '8502': 'c95dc21a-df0e-4340-8d7b-26cbfa9a03e0', // Container Linux /OEM customizations
  '8503': 'be9067b9-ea49-4f15-b4f6-f36f8c9e1818', // Container Linux root on RAID
  '8e00': 'e6d6d379-f507-44c2-a23c-238f2a3df928', // Linux LVM
  a000: '2568845d-2332-4675-bc39-8fa5a4748d15', // Android bootloader
  a001: '114eaffe-1552-4022-b26e-9b053604cf84', // Android bootloader 2
  a002: '49a4d17f-93a3-45c1-a0de-f50b2ebe2599', // Android boot 1
  a003: '4177c722-9e92-4aab-8644-43502bfd5506', // Android recovery 1
  a004: 'ef32a33b-a409-486c-9141-9ffb711f6266', // Android misc
  a005: '20ac26be-20b7-11e3-84c5-6cfdb94711e9', // Android metadata
  a006: '38f428e6-d326-425d-9140-6e0ea133647c', // Android system 1
  a007: 'a893ef21-e428-470a-9e55-0668fd91a2d9', // Android cache
  a008: 'dc76dda9-5ac1-491c-af42-a82591580c0d', // Android data
  a009: 'ebc597d0-2053-4b15-8b64-e0aac75f4db1', // Android persistent
  a00a: '8f68cc74-c5e5-48da-be91-a0c8c15e9c80', // Android factory
  a00b: '767941d0-2085-11e3-ad3b-6cfdb94711e9', // Android fastboot/tertiary
  a00c: 'ac6d7924-eb71-4df8-b48d-e267b27148ff', // Android OEM
  a00d: 'c5a0aeec-13ea-11e5-a1b1-001e67ca0c3c', // Android vendor
  a00e: 'bd59408b-4514-490d-bf12-9878d963f378', // Android config
  a00f: '9fdaa6ef-4b3f-40d2-ba8d-bff16bfb887b', // Android factory (alt)
  a010: '19a710a2-b3ca-11e4-b026-10604b889dcf', // Android meta
  a011: '193d1ea4-b3ca-11e4-b075-10604b889dcf', // Android EXT
  a012: 'dea0ba2c-cbdd-4805-b4f9-f428251c3e98', // Android SBL1
  a013: '8c6b52ad-8a9e-4398-ad09-ae916e53ae2d', // Android SBL2
  a014: '05e044df-92f1-4325-b69e-374a82e97d6e', // Android SBL3
  a015: '400ffdcd-22e0-47e7-9a23-f16ed9382388', // Android APPSBL
  a016: 'a053aa7f-40b8-4b1c-ba08-2f68ac71a4f4', // Android QSEE/tz
  a017: 'e1a6a689-0c8d-4cc6-b4e8-55a4320fbd8a', // Android QHEE/hyp
  a018: '098df793-d712-413d-9d4e-89d711772228', // Android RPM
  a019: 'd4e0d938-b7fa-48c1-9d21-bc5ed5c4b203', // Android WDOG debug/sdi
  a01a: '20a0c19c-286a-42fa-9ce7-f64c3226a794', // Android DDR
  a01b: 'a19f205f-ccd8-4b6d-8f1e-2d9bc24cffb1', // Android CDT
  a01c: '66c9b323-f7fc-48b6-bf96-6f32e335a428', // Android RAM dump
  a01d: '303e6ac3-af15-4c54-9e9b-d9a8fbecf401', // Android SEC
  a01e: 'c00eef24-7709-43d6-9799-dd2b411e7a3c', // Android PMIC
  a01f: '82acc91f-357c-4a68-9c8f-689e1b1a23a1', // Android misc 1
  a020: 'e2802d54-0545-e8a1-a1e8-c7a3e245acd4', // Android misc 2
  a021: '65addcf4-0c5c-4d9a-ac2d-d90b5cbfcd03', // Android device info
  a022: 'e6e98da2-e22a-4d12-ab33-169e7deaa507', // Android APDP
  a023: 'ed9e8101-05fa-46b7-82aa-8d58770d200b', // Android MSADP
  a024: '11406f35-1173-4869-807b-27df71802812', // Android DPO
  a025: '9d72d4e4-9958-42da-ac26-bea7a90b0434', // Android recovery 2
  a026: '6c95e238-e343-4ba8-b489-8681ed22ad0b', // Android persist
  a027: 'ebbeadaf-22c9-e33b-8f5d-0e81686a68cb', // Android modem ST1
  a028: '0a288b1f-22c9-e33b-8f5d-0e81686a68cb', // Android modem ST2
  a029: '57b90a16-22c9-e33b-8f5d-0e81686a68cb', // Android FSC
  a02a: '638ff8e2-22c9-e33b-8f5d-0e81686a68cb', // Android FSG 1
  a02b: '2013373e-1ac4-4131-bfd8-b6a7ac638772', // Android FSG 2
  a02c: '2c86e742-745e-4fdd-bfd8-b6a7ac638772', // Android SSD
  a02d: 'de7d4029-0f5b-41c8-ae7e-f6c023a02b33', // Android keystore
  a02e: '323ef595-af7a-4afa-8060-97be72841bb9', // Android encrypt
  a02f: '45864011-cf89-46e6-a445-85262e065604', // Android EKSST
  a030: '8ed8ae95-597f-4c8a-a5bd-a7ff8e4dfaa9', // Android RCT
  a031: 'df24e5ed-8c96-4b86-b00b-79667dc6de11', // Android spare1
  a032: '7c29d3ad-78b9-452e-9deb-d098d542f092', // Android spare2
  a033: '379d107e-229e-499d-ad4f-61f5bcf87bd4', // Android spare3
  a034: '0dea65e5-a676-4cdf-823c-77568b577ed5', // Android spare4
  a035: '4627ae27-cfef-48a1-88fe-99c3509ade26', // Android raw resources
  a036: '20117f86-e985-4357-b9ee-374bc1d8487d', // Android boot 2
  a037: '86a7cb80-84e1-408c-99ab-694f1a410fc7', // Android FOTA
  a038: '97d7b011-54da-4835-b3c4-917ad6e73d74', // Android system 2
  a039: '5594c694-c871-4b5f-90b1-690a6f68e0f7', // Android cache
  a03a: '1b81e7e6-f50d-419b-a739-2aeef8da3335', // Android user data
  a03b: '98523ec6-90fe-4c67-b50a-0fc59ed6f56d', // LG (Android) advanced flasher
  a03c: '2644bcc0-f36a-4792-9533-1738bed53ee3', // Android PG1FS
  a03d: 'dd7c91e9-38c9-45c5-8a12-4a80f7e14057', // Android PG2FS
  a03e: '7696d5b6-43fd-4664-a228-c563c4a1e8cc', // Android board info
  a03f: '0d802d54-058d-4a20-ad2d-c7a362ceacd4', // Android MFG
  a040: '10a0c19c-516a-5444-5ce3-664c3226a794', // Android limits
  a200: '734e5afe-f61a-11e6-bc64-92361f002671', // Atari TOS basic data
  a500: '516e7cb4-6ecf-11d6-8ff8-00022d09712b', // FreeBSD disklabel
  a501: '83bd6b9d-7f41-11dc-be0b-001560b84f0f', // FreeBSD boot
  a502: '516e7cb5-6ecf-11d6-8ff8-00022d09712b', // FreeBSD swap
  a503: '516e7cb6-6ecf-11d6-8ff8-00022d09712b', // FreeBSD UFS
  a504: '516e7cba-6ecf-11d6-8ff8-00022d09712b', // FreeBSD ZFS
  a505: '516e7cb8-6ecf-11d6-8ff8-00022d09712b', // FreeBSD Vinum/RAID
  a506: '74ba7dd9-a689-11e1-bd04-00e081286acf', // FreeBSD nandfs
  a580: '85d5e45a-237c-11e1-b4b3-e89a8f7fc3a7', // Midnight BSD data
  a581: '85d5e45e-237c-11e1-b4b3-e89a8f7fc3a7', // Midnight BSD boot
  a582: '85d5e45b-237c-11e1-b4b3-e89a8f7fc3a7', // Midnight BSD swap
  a583: '0394ef8b-237e-11e1-b4b3-e89a8f7fc3a7', // Midnight BSD UFS
  a584: '85d5e45d-237c-11e1-b4b3-e89a8f7fc3a7', // Midnight BSD ZFS
  a585: '85d5e45c-237c-11e1-b4b3-e89a8f7fc3a7', // Midnight BSD Vinum
  a600: '824cc7a0-36a8-11e3-890a-952519ad3f61', // OpenBSD disklabel
  a800: '55465300-0000-11aa-aa11-00306543ecac', // Apple UFS
  a901: '49f48d32-b10e-11dc-b99b-0019d1879648', // NetBSD swap
  a902: '49f48d5a-b10e-11dc-b99b-0019d1879648', // NetBSD FFS
  a903: '49f48d82-b10e-11dc-b99b-0019d1879648', // NetBSD LFS
  a904: '2db519c4-b10f-11dc-b99b-0019d1879648', // NetBSD concatenated
  a905: '2db519ec-b10f-11dc-b99b-0019d1879648', // NetBSD encrypted
  a906: '49f48daa-b10e-11dc-b99b-0019d1879648', // NetBSD RAID
  ab00: '426f6f74-0000-11aa-aa11-00306543ecac', // Recovery HD
  af00: '48465300-0000-11aa-aa11-00306543ecac', // Apple HFS/HFS+
  af01: '52414944-0000-11aa-aa11-00306543ecac', // Apple RAID
  af02: '52414944-5f4f-11aa-aa11-00306543ecac', // Apple RAID offline
  af03: '4c616265-6c00-11aa-aa11-00306543ecac', // Apple label
  af04: '5265636f-7665-11aa-aa11-00306543ecac', // AppleTV recovery
  af05: '53746f72-6167-11aa-aa11-00306543ecac', // Apple Core Storage
  af06: 'b6fa30da-92d2-4a9a-96f1-871ec6486200', // Apple SoftRAID Status
  af07: '2e313465-19b9-463f-8126-8a7993773801', // Apple SoftRAID Scratch
  af08: 'fa709c7e-65b1-4593-bfd5-e71d61de9b02', // Apple SoftRAID Volume
  af09: 'bbba6df5-f46f-4a89-8f59-8765b2727503', // Apple SoftRAID Cache
  af0a: '7c3457ef-0000-11aa-aa11-00306543ecac', // Apple APFS
  af0b: '69646961-6700-11aa-aa11-00306543ecac', // Apple APFS Pre-Boot
  af0c: '52637672-7900-11aa-aa11-00306543ecac', // Apple APFS Recovery
  b000: '3de21764-95bd-54bd-a5c3-4abe786f38a8', // U-Boot boot loader
  b300: 'cef5a9ad-73bc-4601-89f3-cdeeeee321a1', // QNX6 Power-Safe
  bb00: '4778ed65-bf42-45fa-9c5b-287a1dc4aab1', // Barebox boot loader
  bc00: '0311fc50-01ca-4725-ad77-9adbb20ace98', // Acronis Secure Zone
  be00: '6a82cb45-1dd2-11b2-99a6-080020736631', // Solaris boot
  bf00: '6a85cf4d-1dd2-11b2-99a6-080020736631', // Solaris root
  bf01: '6a898cc3-1dd2-11b2-99a6-080020736631', // Solaris /usr & Mac ZFS
  bf02: '6a87c46f-1dd2-11b2-99a6-080020736631', // Solaris swap
  bf03: '6a8b642b-1dd2-11b2-99a6-080020736631', // Solaris backup
  bf04: '6a8ef2e9-1dd2-11b2-99a6-080020736631', // Solaris /var
  bf05: '6a90ba39-1dd2-11b2-99a6-080020736631', // Solaris /home
  bf06: '6a9283a5-1dd2-11b2-99a6-080020736631', // Solaris alternate sector
  bf07: '6a945a3b-1dd2-11b2-99a6-080020736631', // Solaris Reserved 1
  bf08: '6a9630d1-1dd2-11b2-99a6-080020736631', // Solaris Reserved 2
  bf09: '6a980767-1dd2-11b2-99a6-080020736631', // Solaris Reserved 3
  bf0a: '6a96237f-1dd2-11b2-99a6-080020736631', // Solaris Reserved 4
  bf0b: '6a8d2ac7-1dd2-11b2-99a6-080020736631', // Solaris Reserved 5
  c001: '75894c1e-3aeb-11d3-b7c1-7b03a0000000', // HP-UX data
  c002: 'e2a1e728-32e3-11d6-a682-7b03a0000000', // HP-UX service
  e100: '7412f7d5-a156-4b13-81dc-867174929325', // ONIE boot
  e101: 'd4e6e2cd-4469-46f3-b5cb-1bff57afc149', // ONIE config
  e900: '8c8f8eff-ac95-4770-814a-21994f2dbc8f', // Veracrypt data
  ea00: 'bc13c2ff-59e6-4262-a352-b275fd6f7172', // XBOOTLDR partition
  eb00: '42465331-3ba3-10f1-802a-4861696b7521', // Haiku BFS
  ed00: 'f4019732-066e-4e12-8273-346c5641494f', // Sony system partition
  ed01: 'bfbfafe7-a34f-448a-9a5b-6213eb736c22', // Lenovo system partition
  ef00: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', // EFI system partition
  ef01: '024dee41-33e7-11d3-9d69-0008c781f39f', // MBR partition scheme
  ef02: '21686148-6449-6e6f-744e-656564454649', // BIOS boot partition
  f100: 'fe8a2634-5e2e-46ba-99e3-3a192091a350', // Fuchsia boot loader (slot A/B/R)
  f101: 'd9fd4535-106c-4cec-8d37-dfc020ca87cb', // Fuchsia durable mutable encrypted system data
  f102: 'a409e16b-78aa-4acc-995c-302352621a41', // Fuchsia durable mutable boot loader
  f103: 'f95d940e-caba-4578-9b93-bb6c90f29d3e', // Fuchsia factory ro system data
  f104: '10b8dbaa-d2bf-42a9-98c6-a7c5db3701e7', // Fuchsia factory ro bootloader data
  f105: '49fd7cb8-df15-4e73-b9d9-992070127f0f', // Fuchsia Volume Manager
  f106: '421a8bfc-85d9-4d85-acda-b64eec0133e9', // Fuchsia verified boot metadata (slot A/B/R)
  f107: '9b37fff6-2e58-466a-983a-f7926d0b04e0', // Fuchsia Zircon boot image (slot A/B/R)
  f108: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', // EFI system partition
  f109: '606b000b-b7c7-4653-a7d5-b737332c899d', // Fuchsia System
  f10a: '08185f0c-892d-428a-a789-dbeec8f55e6a', // Fuchsia Data
  f10b: '48435546-4953-2041-494e-5354414c4c52', // Fuchsia Install
  f10c: '2967380e-134c-4cbb-b6da-17e7ce1ca45d', // Fuchsia Blob
  f10d: '41d0e340-57e3-954e-8c1e-17ecac44cff5', // Fuchsia FVM
  f10e: 'de30cc86-1f4a-4a31-93c4-66f147d33e05', // Fuchsia Zircon boot image (slot A)
  f10f: '23cc04df-c278-4ce7-8471-897d1a4bcdf7', // Fuchsia Zircon boot image (slot B)
  f110: 'a0e5cf57-2def-46be-a80c-a2067c37cd49', // Fuchsia Zircon boot image (slot R)
  f111: '4e5e989e-4c86-11e8-a15b-480fcf35f8e6', // Fuchsia sys-config
  f112: '5a3a90be-4c86-11e8-a15b-480fcf35f8e6', // Fuchsia factory-config
  f113: '5ece94fe-4c86-11e8-a15b-480fcf35f8e6', // Fuchsia bootloader
  f114: '8b94d043-30be-4871-9dfa-d69556e8c1f3', // Fuchsia guid-test
  f115: 'a13b4d9a-ec5f-11e8-97d8-6c3be52705bf', // Fuchsia verified boot metadata (A)
  f116: 'a288abf2-ec5f-11e8-97d8-6c3be52705bf', // Fuchsia verified boot metadata (B)
  f117: '6a2460c3-cd11-4e8b-80a8-12cce268ed0a', // Fuchsia verified boot metadata (R)
  f118: '1d75395d-f2c6-476b-a8b7-45cc1c97b476', // Fuchsia misc
  f119: '900b0fc5-90cd-4d4f-84f9-9f8ed579db88', // Fuchsia emmc-boot1
  f11a: 'b2b2e8d1-7c10-4ebc-a2d0-4614568260ad', // Fuchsia emmc-boot2
  f800: '4fbd7e29-9d25-41b8-afd0-062c0ceff05d', // Ceph OSD
  f801: '4fbd7e29-9d25-41b8-afd0-5ec00ceff05d', // Ceph dm-crypt OSD
  f802: '45b0969e-9b03-4f30-b4c6-b4b80ceff106', // Ceph journal
  f803: '45b0969e-9b03-4f30-b4c6-5ec00ceff106', // Ceph dm-crypt journal
  f804: '89c57f98-2fe5-4dc0-89c1-f3ad0ceff2be', // Ceph disk in creation
  f805: '89c57f98-2fe5-4dc0-89c1-5ec00ceff2be', // Ceph dm-crypt disk in creation
  f806: 'cafecafe-9b03-4f30-b4c6-b4b80ceff106', // Ceph block
  f807: '30cd0809-c2b2-499c-8879-2d6b78529876', // Ceph block DB
  f808: '5ce17fce-4087-4169-b7ff-056cc58473f9', // Ceph block write-ahead log
  f809: 'fb3aabf9-d25f-47cc-bf5e-721d1816496b', // Ceph lockbox for dm-crypt keys
  f80a: '4fbd7e29-8ae0-4982-bf9d-5a8d867af560', // Ceph multipath OSD
  f80b: '45b0969e-8ae0-4982-bf9d-5a8d867af560', // Ceph multipath journal
  f80c: 'cafecafe-8ae0-4982-bf9d-5a8d867af560', // Ceph multipath block 1
  f80d: '7f4a666a-16f3-47a2-8445-152ef4d03f6c', // Ceph multipath block 2
  f80e: 'ec6d6385-e346-45dc-be91-da2a7c8b3261', // Ceph multipath block DB
  f80f: '01b41e1b-002a-453c-9f17-88793989ff8f', // Ceph multipath block write-ahead log
  f810: 'cafecafe-9b03-4f30-b4c6-5ec00ceff106', // Ceph dm-crypt block
  f811: '93b0052d-02d9-4d8a-a43b-33a3ee4dfbc3', // Ceph dm-crypt block DB
  f812: '306e8683-4fe2-4330-b7c0-00a917c16966', // Ceph dm-crypt block write-ahead log
  f813: '45b0969e-9b03-4f30-b4c6-35865ceff106', // Ceph dm-crypt LUKS journal
  f814: 'cafecafe-9b03-4f30-b4c6-35865ceff106', // Ceph dm-crypt LUKS block
  f815: '166418da-c469-4022-adf4-b30afd37f176', // Ceph dm-crypt LUKS block DB
  f816: '86a32090-3647-40b9-bbbd-38d8c573aa86', // Ceph dm-crypt LUKS block write-ahead log
  f817: '4fbd7e29-9d25-41b8-afd0-35865ceff05d', // Ceph dm-crypt LUKS OSD
  fb00: 'aa31e02a-400f-11db-9590-000c2911d1b8', // VMWare VMFS
  fb01: '9198effc-31c0-11db-8f78-000c2911d1b8', // VMWare reserved
  fc00: '9d275380-40ad-11db-bf97-000c2911d1b8', // VMWare kcore crash protection
  fd00: 'a19d880f-05fc-4d3b-a006-743f0f84911e', // Linux RAID
};

const FULL_GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** The type GUID for a recipe's `type_guid` (a full GUID or an sgdisk code), or undefined for a code sgdisk does not know. */
export function typeGuid(code: string): string | undefined {
  if (FULL_GUID.test(code)) return code.toLowerCase();
  return Object.hasOwn(GPT_TYPE_GUIDS, code.toLowerCase()) ? GPT_TYPE_GUIDS[code.toLowerCase()] : undefined;
}
